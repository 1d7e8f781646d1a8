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


async def test_compare_and_set_and_leases() -> None:
    config = MemoryGlobalConfig()
    assert await config.compare_and_set("k", None, "a") is True
    assert await config.compare_and_set("k", None, "b") is False
    assert await config.compare_and_set("k", "a", "b") is True
    assert await config.compare_and_set("k", "b", None) is True  # None deletes
    assert await config.get("k") is None

    assert await config.acquire_lease("timer", "one", ttl=0.05) is True
    assert await config.acquire_lease("timer", "two", ttl=0.05) is False
    assert await config.acquire_lease("timer", "one", ttl=0.05) is True  # renew
    await anyio.sleep(0.06)
    assert await config.acquire_lease("timer", "two", ttl=1) is True  # expired: taken over
    assert await config.release_lease("timer", "one") is False
    assert await config.release_lease("timer", "two") is True
    assert await config.acquire_lease("timer", "one", ttl=1) is True


async def test_publish_reaches_current_subscribers_only() -> None:
    config = MemoryGlobalConfig()
    await config.publish("ch", {"before": True})
    got: list[dict[str, object]] = []
    async with config.subscribe("ch") as inbox:
        await config.publish("ch", {"n": 1})
        await config.publish("other", {"n": 99})
        await config.publish("ch", {"n": 2})
        async for message in inbox:
            got.append(message)
            if len(got) == 2:
                break
    assert got == [{"n": 1}, {"n": 2}]
    await config.publish("ch", {"after": True})  # no subscriber left: nothing breaks
    assert config._subscribers["ch"] == set()
