"""QTasks on Kafka: ``QueueTasks(broker="kafka://127.0.0.1:9092", storage="redis://...")``.

The broker keeps QTasks' delivery promises on top of Kafka's log: offsets are committed only
for finished tasks, crashed workers' tasks are consumed again by the group, retries and delays
go through delay topics, dead letters to a topic per queue with the reason in a header.
See docs/kafka.md for what Kafka can and cannot do (priorities, cancel, ordering).
"""

from qtasks_kafka.__about__ import __version__
from qtasks_kafka._delays import DEFAULT_DELAY_STEPS
from qtasks_kafka.broker import KafkaBroker
from qtasks_kafka.exceptions import (
    KafkaBrokerError,
    KafkaConfigurationError,
    KafkaConnectionError,
    QTasksKafkaError,
)

__all__ = [
    "DEFAULT_DELAY_STEPS",
    "KafkaBroker",
    "KafkaBrokerError",
    "KafkaConfigurationError",
    "KafkaConnectionError",
    "QTasksKafkaError",
    "__version__",
]
