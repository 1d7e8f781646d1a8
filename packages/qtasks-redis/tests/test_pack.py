"""Commands packed for the wire: hiredis' C packer, when installed, must match redis-py's."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Connection
from redis.exceptions import DataError

from qtasks_redis import _connection
from qtasks_redis._connection import ScriptCall, _pack

COMMANDS: list[tuple[Any, ...]] = [
    ScriptCall("fetch", ["qtasks:{app:q}:ready", "qtasks:{app:q}:wake"], (10, 30.0, 9)).command(),
    ScriptCall("save", ["qtasks:app:task:ü"], (b",new,", b"8640", 17, "done:", b"x|{}")).command(),
    ("BLPOP", "qtasks:{app:q}:wake", "0.250"),
    ("ZADD", "z", 0.1 + 0.2, "m", 1e-05, "n", 1796418828.009724, "o"),
    ("SET", "k", b"\x00\xff binary", "PX", 5),
]


def reference(argv: list[tuple[Any, ...]]) -> bytes:
    return b"".join(Connection().pack_commands(argv))


def test_packed_bytes_match_redis_py() -> None:
    packed = _pack(Connection(), COMMANDS)
    assert (packed if isinstance(packed, bytes) else b"".join(packed)) == reference(COMMANDS)


def test_the_fast_path_is_taken_when_hiredis_is_installed() -> None:
    pytest.importorskip("hiredis")
    assert _connection._PACK_COMMAND is not None
    assert isinstance(_pack(Connection(), COMMANDS), bytes)


def test_what_hiredis_refuses_goes_through_redis_py(monkeypatch: pytest.MonkeyPatch) -> None:
    view = [("SET", "k", memoryview(b"value"))]
    packed = _pack(Connection(), view)
    assert (packed if isinstance(packed, bytes) else b"".join(packed)) == reference(view)
    with pytest.raises(DataError, match="bool"):
        _pack(Connection(), [("SET", "k", True)])
    monkeypatch.setattr(_connection, "_PACK_COMMAND", None)  # as without the hiredis extra
    packed = _pack(Connection(), COMMANDS)
    assert (packed if isinstance(packed, bytes) else b"".join(packed)) == reference(COMMANDS)
