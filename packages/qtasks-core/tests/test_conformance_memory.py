"""Core's in-memory components pass the same conformance suites as every backend."""

from __future__ import annotations

import pytest

from qtasks.memory import MemoryBroker, MemoryGlobalConfig, MemoryStorage
from qtasks.testing.conformance import (
    BrokerConformance,
    GlobalConfigConformance,
    StorageConformance,
)
from qtasks.testing.conformance.broker import BrokerFactory
from qtasks.testing.conformance.global_config import GlobalConfigFactory
from qtasks.testing.conformance.storage import StorageFactory


class TestMemoryBroker(BrokerConformance):
    redelivers_abandoned = False
    abandoned_reason = "the in-memory broker lives and dies with its one process"

    @pytest.fixture
    def broker_factory(self) -> BrokerFactory:
        shared = MemoryBroker()  # one process: every "connection" is the same broker
        return lambda: shared


class TestMemoryStorage(StorageConformance):
    shortest_ttl = 0.2

    @pytest.fixture
    def storage_factory(self) -> StorageFactory:
        shared = MemoryStorage()
        return lambda: shared


class TestMemoryGlobalConfig(GlobalConfigConformance):
    @pytest.fixture
    def global_config_factory(self) -> GlobalConfigFactory:
        shared = MemoryGlobalConfig()
        return lambda: shared
