"""KafkaBroker against core's broker contract, on a real Kafka-protocol server."""

from __future__ import annotations

import pytest

from qtasks.interfaces.broker import Broker
from qtasks.testing.conformance import BrokerConformance
from qtasks.testing.conformance._support import Instances
from qtasks.testing.conformance.broker import BrokerFactory
from qtasks_kafka import KafkaBroker

#: Short session timeouts: an abandoned member is evicted after ``session_timeout`` and a new
#: group forms faster (Tansu holds the first join for half the session timeout).
FAST = {"session_timeout": 1.5, "heartbeat_interval": 0.3, "rebalance_grace": 0.5}

#: Every queue the suite uses, joined before a test's clock starts (see ``broker`` below).
SUITE_QUEUES = ["q", "z", "a", "b", "empty"]

NO_PRIORITY = (
    "Kafka has no per-message priority; without priority_bands a queue is one topic read "
    "in order (docs/kafka.md, 'Priority')"
)
NO_CANCEL = (
    "Kafka cannot remove a record from a topic; a cancelled task is skipped when it is "
    "delivered (docs/kafka.md, 'Cancel')"
)


class TestKafkaBroker(BrokerConformance):
    """The default layout: one partition per topic, no priority bands."""

    supports_priority = False
    priority_reason = NO_PRIORITY
    supports_cancel = False
    cancel_reason = NO_CANCEL
    redelivery_within = 20.0
    options: dict[str, object] = {}

    @pytest.fixture
    def broker_factory(self, kafka_url: str) -> BrokerFactory:
        return lambda: KafkaBroker.from_url(kafka_url, **FAST, **self.options)

    @pytest.fixture
    async def broker(self, brokers: Instances[Broker]) -> Broker:
        """A broker whose consumer group has formed.

        A new group takes a moment to form (Kafka's initial rebalance delay; on Tansu half
        the session timeout), and the first ``receive`` waits for it. Several cases time how
        soon a message arrives after it was sent, so the join happens before they start.
        Cases that start further consumers (sharing, abandonment) still pay for their joins.
        """
        made = await brokers.new()
        assert await made.receive(SUITE_QUEUES, 1, 0.1) == []
        return made
