from __future__ import annotations

import anyio
import pytest

from qtasks.memory import MemoryGlobalConfig

pytestmark = pytest.mark.anyio


async def test_values_are_copies_with_ttl() -> None:
    config = MemoryGlobalConfig.from_url("memory://")
    value = {"a": [1]}
    await config.set("k", value)
    value["a"].append(2)
    assert await config.get("k") == {"a": [1]}
    await config.set("short", 1, ttl=0.02)
    assert await config.items() == {"k": {"a": [1]}, "short": 1}
    await anyio.sleep(0.03)
    assert await config.get("short") is None
    assert await config.items("s") == {}
    assert await config.delete("k") is True
    assert await config.delete("k") is False
    assert await config.get("missing") is None
