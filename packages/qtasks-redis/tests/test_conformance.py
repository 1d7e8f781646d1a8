"""The core conformance suites, run against the real Redis server."""

from __future__ import annotations

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


class TestRedisBroker(BrokerConformance):
    # A lease of 1 s: a consumer that vanishes loses its messages to another within ~1 s.
    redelivery_within = 6.0

    @pytest.fixture
    def broker_factory(self, redis_url: str) -> BrokerFactory:
        return lambda: RedisBroker(redis_url, visibility_timeout=1.0)


class TestRedisStorage(StorageConformance):
    shortest_ttl = 0.2

    @pytest.fixture
    def storage_factory(self, redis_url: str) -> StorageFactory:
        return lambda: RedisStorage(redis_url)


class TestRedisGlobalConfig(GlobalConfigConformance):
    @pytest.fixture
    def global_config_factory(self, redis_url: str) -> GlobalConfigFactory:
        return lambda: RedisGlobalConfig(redis_url)
