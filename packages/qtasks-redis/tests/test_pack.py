"""Commands packed for the wire, by hiredis' C packer when installed, else by redis-py.

Both paths are checked against RESP written out by hand here, so each test means something
whether or not the session has hiredis (it does on the default Python only).
"""

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


def bulk(arg: Any) -> bytes:
    """One argument as a RESP bulk string: str as UTF-8, numbers as ``repr``."""
    if isinstance(arg, str):
        raw = arg.encode()
    elif isinstance(arg, (int, float)):
        raw = repr(arg).encode()
    else:
        raw = bytes(arg)
    return b"$%d\r\n%s\r\n" % (len(raw), raw)


def resp(argv: list[tuple[Any, ...]]) -> bytes:
    """RESP arrays of bulk strings, written out by hand."""
    return b"".join(b"*%d\r\n" % len(c) + b"".join(bulk(a) for a in c) for c in argv)


def packed(argv: list[tuple[Any, ...]]) -> bytes:
    wire = _pack(Connection(), argv)
    return wire if isinstance(wire, bytes) else b"".join(wire)


def test_commands_are_packed_as_resp() -> None:
    assert packed(COMMANDS) == resp(COMMANDS)


def test_the_c_packer_is_used_when_hiredis_is_installed() -> None:
    pytest.importorskip("hiredis")
    assert _connection._PACK_COMMAND is not None
    assert isinstance(_pack(Connection(), COMMANDS), bytes)  # redis-py's own gives a list


def test_what_hiredis_refuses_goes_through_redis_py(monkeypatch: pytest.MonkeyPatch) -> None:
    view = [("SET", "k", memoryview(b"value"))]
    assert packed(view) == resp(view)
    with pytest.raises(DataError, match="bool"):
        _pack(Connection(), [("SET", "k", True)])
    monkeypatch.setattr(_connection, "_PACK_COMMAND", None)  # as without the hiredis extra
    assert packed(COMMANDS) == resp(COMMANDS)
