"""The GlobalConfig contract, as tests: values with TTLs, compare-and-set, leases, pub/sub."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from qtasks.interfaces.global_config import GlobalConfig
from qtasks.testing.conformance._support import Instances, instances

__all__ = ["GlobalConfigConformance", "GlobalConfigFactory"]

GlobalConfigFactory = Callable[[], GlobalConfig]


class GlobalConfigConformance:
    """The GlobalConfig contract; subclass it and provide ``global_config_factory``.

    Each factory call returns a new, unstarted global config on the same server (the
    in-memory one returns a shared instance).
    """

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def global_config_factory(self) -> GlobalConfigFactory:
        raise NotImplementedError(
            "a GlobalConfigConformance subclass must provide global_config_factory"
        )

    @pytest.fixture
    async def configs(
        self, global_config_factory: GlobalConfigFactory
    ) -> AsyncIterator[Instances[GlobalConfig]]:
        async with instances(global_config_factory) as made:
            yield made

    @pytest.fixture
    async def config(self, configs: Instances[GlobalConfig]) -> GlobalConfig:
        return await configs.new()

    async def test_values_round_trip_as_copies(self, config: GlobalConfig) -> None:
        value: dict[str, Any] = {"a": [1, "two", None], "b": {"c": 1.5}}
        await config.set("k", value)
        value["a"].append("changed")
        assert await config.get("k") == {"a": [1, "two", None], "b": {"c": 1.5}}
        await config.set("k", "replaced")
        assert await config.get("k") == "replaced"
        assert await config.get("missing") is None

    async def test_delete(self, config: GlobalConfig) -> None:
        await config.set("k", 1)
        assert await config.delete("k") is True
        assert await config.delete("k") is False
        assert await config.get("k") is None

    async def test_ttl_expires_values(self, config: GlobalConfig) -> None:
        await config.set("short", 1, ttl=0.5)
        await config.set("long", 2)
        assert await config.get("short") == 1
        await anyio.sleep(1.2)
        assert await config.get("short") is None
        assert await config.get("long") == 2

    async def test_items_by_prefix(self, config: GlobalConfig) -> None:
        await config.set("worker:a", {"n": 1})
        await config.set("worker:b", {"n": 2})
        await config.set("other", 3)
        assert await config.items("worker:") == {"worker:a": {"n": 1}, "worker:b": {"n": 2}}
        assert set(await config.items()) >= {"worker:a", "worker:b", "other"}

    async def test_instances_share_values(self, configs: Instances[GlobalConfig]) -> None:
        first, second = await configs.new(), await configs.new()
        await first.set("shared", [1, 2])
        assert await second.get("shared") == [1, 2]

    async def test_compare_and_set(self, config: GlobalConfig) -> None:
        assert await config.compare_and_set("k", None, "a") is True
        assert await config.compare_and_set("k", None, "b") is False
        assert await config.compare_and_set("k", "x", "b") is False
        assert await config.compare_and_set("k", "a", {"v": 2}) is True
        assert await config.get("k") == {"v": 2}
        assert await config.compare_and_set("k", {"v": 2}, None) is True
        assert await config.get("k") is None

    async def test_compare_and_set_is_atomic_under_contention(
        self, configs: Instances[GlobalConfig]
    ) -> None:
        contenders = [await configs.new() for _ in range(2)]
        winners: list[int] = []

        async def grab(index: int) -> None:
            if await contenders[index % 2].compare_and_set("race", None, index):
                winners.append(index)

        async with anyio.create_task_group() as group:
            for index in range(20):
                group.start_soon(grab, index)
        assert len(winners) == 1
        assert await contenders[0].get("race") == winners[0]

    async def test_leases(self, configs: Instances[GlobalConfig]) -> None:
        first, second = await configs.new(), await configs.new()
        assert await first.acquire_lease("timer", "p1", ttl=0.6) is True
        assert await second.acquire_lease("timer", "p2", ttl=0.6) is False
        assert await first.acquire_lease("timer", "p1", ttl=0.6) is True  # renewal
        await anyio.sleep(1.2)  # p1 died: the lease lapses
        assert await second.acquire_lease("timer", "p2", ttl=5) is True
        assert await first.release_lease("timer", "p1") is False
        assert await second.release_lease("timer", "p2") is True
        assert await first.acquire_lease("timer", "p1", ttl=5) is True

    async def test_publish_reaches_current_subscribers(
        self, configs: Instances[GlobalConfig]
    ) -> None:
        publisher, listener = await configs.new(), await configs.new()
        await publisher.publish("chan", {"before": True})  # nobody listens yet
        received: list[dict[str, Any]] = []
        async with listener.subscribe("chan") as messages:  # subscribed once entered
            await publisher.publish("chan", {"op": "cancel", "uuid": "u1"})
            await publisher.publish("other", {"op": "ignored"})
            await publisher.publish("chan", {"op": "cancel", "uuid": "u2"})
            with anyio.fail_after(5):
                async for item in messages:
                    received.append(item)
                    if len(received) == 2:
                        break
        assert received == [{"op": "cancel", "uuid": "u1"}, {"op": "cancel", "uuid": "u2"}]
