"""RabbitMQBroker passes core's broker conformance suite against the real server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qtasks.testing.conformance import BrokerConformance
from qtasks.testing.conformance.broker import BrokerFactory
from qtasks_rabbitmq import RabbitMQBroker


class TestRabbitMQBroker(BrokerConformance):
    supports_cancel = False
    cancel_reason = (
        "RabbitMQ cannot remove one message from the middle of a queue; a cancelled task "
        "is skipped by the worker when it arrives (the storage record says cancel)"
    )

    @pytest.fixture
    def broker_factory(
        self, amqp_url: str, cleanup: Callable[[RabbitMQBroker], None]
    ) -> BrokerFactory:
        def make() -> RabbitMQBroker:
            broker = RabbitMQBroker(amqp_url)
            cleanup(broker)
            return broker

        return make
