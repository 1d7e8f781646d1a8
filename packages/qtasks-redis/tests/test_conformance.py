"""The core conformance suites, run against the real Redis server and a one-node Redis Cluster.

Each suite runs twice, once per ``url``: the same components, with ``?cluster=true`` on the
cluster (three nodes: integration/redis/test_cluster.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from qtasks.testing.conformance import (
    BrokerConformance,
    GlobalConfigConformance,
    StorageConformance,
)
from qtasks.testing.conformance.broker import BrokerFactory
from qtasks.testing.conformance.global_config import GlobalConfigFactory
from qtasks.testing.conformance.storage import StorageFactory
from qtasks_redis import RedisBroker, RedisGlobalConfig, RedisStorage
from qtasks_redis._component import RedisComponent

R = TypeVar("R", bound=RedisComponent)
#: The ``cleanup`` fixture (conftest): registers a component whose namespace goes afterwards.
Cleanup = Callable[[R], R]


@pytest.fixture(params=["redis_url", "cluster_url"], ids=["server", "cluster"])
def url(request: pytest.FixtureRequest) -> str:
    """The shared server's URL, then the session's one-node cluster's."""
    value: str = request.getfixturevalue(request.param)
    return value


class TestRedisBroker(BrokerConformance):
    # A lease of 1 s: a consumer that vanishes loses its messages to another within ~1 s.
    redelivery_within = 6.0

    @pytest.fixture
    def broker_factory(self, url: str, cleanup: Cleanup) -> BrokerFactory:
        return lambda: cleanup(RedisBroker(url, visibility_timeout=1.0))


class TestRedisStorage(StorageConformance):
    shortest_ttl = 0.2

    @pytest.fixture
    def storage_factory(self, url: str, cleanup: Cleanup) -> StorageFactory:
        return lambda: cleanup(RedisStorage(url))


class TestRedisGlobalConfig(GlobalConfigConformance):
    @pytest.fixture
    def global_config_factory(self, url: str, cleanup: Cleanup) -> GlobalConfigFactory:
        return lambda: cleanup(RedisGlobalConfig(url))
