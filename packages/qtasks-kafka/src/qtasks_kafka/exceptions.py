"""Errors of the Kafka backend; each is also the matching core category.

Catch ``QTasksKafkaError`` for anything from this package, or the core categories
(``BrokerError``, ``ConfigurationError``) to treat every backend alike.
"""

from __future__ import annotations

from qtasks.exceptions import (
    BrokerConnectionError,
    BrokerError,
    ConfigurationError,
    QTasksError,
)

__all__ = [
    "KafkaBrokerError",
    "KafkaConfigurationError",
    "KafkaConnectionError",
    "QTasksKafkaError",
]


class QTasksKafkaError(QTasksError):
    """Root of the errors raised by qtasks-kafka."""


class KafkaConfigurationError(QTasksKafkaError, ConfigurationError):
    """The Kafka broker was configured in a way that cannot work (the message says the fix)."""


class KafkaBrokerError(QTasksKafkaError, BrokerError):
    """Kafka refused or failed a request (produce, commit, topic creation...)."""


class KafkaConnectionError(KafkaBrokerError, BrokerConnectionError):
    """No Kafka broker of the bootstrap list could be reached."""
