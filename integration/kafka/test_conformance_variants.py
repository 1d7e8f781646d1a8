"""The broker contract again, on layouts other than the default (run once, in integration).

The package's own suite runs the default layout (one partition, no priority bands).
"""

from __future__ import annotations

import pytest

from qtasks.interfaces.broker import Broker
from qtasks.testing.conformance import BrokerConformance
from qtasks.testing.conformance._support import Instances
from qtasks.testing.conformance.broker import BrokerFactory
from qtasks_kafka import KafkaBroker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAST = {"session_timeout": 1.5, "heartbeat_interval": 0.3, "rebalance_grace": 0.5}
SUITE_QUEUES = ["q", "z", "a", "b", "empty"]
NO_CANCEL = "Kafka cannot remove a record from a topic (docs/kafka.md, 'Cancel')"


class _Warm(BrokerConformance):
    supports_cancel = False
    cancel_reason = NO_CANCEL
    redelivery_within = 20.0
    options: dict[str, object] = {}

    @pytest.fixture
    def broker_factory(self, kafka_url: str) -> BrokerFactory:
        return lambda: KafkaBroker.from_url(kafka_url, **FAST, **self.options)

    @pytest.fixture
    async def broker(self, brokers: Instances[Broker]) -> Broker:
        """Join the group before a case's clock starts (see the package's conformance test)."""
        made = await brokers.new()
        assert await made.receive(SUITE_QUEUES, 1, 0.1) == []
        return made


class TestKafkaBrokerPriorityBands(_Warm):
    """Priority bands that separate every priority the suite uses: a topic per band."""

    options = {"priority_bands": (-2, 1, 3, 5)}


class TestKafkaBrokerThreePartitions(_Warm):
    """Three partitions per topic: order holds per partition (per key), not per queue."""

    supports_priority = False
    priority_reason = "no priority bands configured in this layout"
    preserves_fifo = False
    fifo_reason = (
        "with several partitions Kafka keeps order per partition (per record key), not "
        "across a queue (docs/kafka.md, 'Ordering')"
    )
    options = {"partitions": 3}
