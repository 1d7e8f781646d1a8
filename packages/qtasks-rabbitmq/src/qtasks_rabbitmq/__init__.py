"""QTasks on RabbitMQ: ``QueueTasks(broker="amqp://guest:guest@127.0.0.1:5672/")``.

``RabbitMQBroker`` keeps tasks in durable priority queues with publisher confirms, delays
them without plugins, dead-letters what cannot run and survives reconnects. Without a
storage, ``DirectReplyStorage`` brings results back to the producer by direct reply-to.
"""

from qtasks_rabbitmq.__about__ import __version__
from qtasks_rabbitmq.broker import RabbitMQBroker
from qtasks_rabbitmq.exceptions import (
    QTasksRabbitMQError,
    RabbitMQBrokerError,
    RabbitMQConnectionError,
    SharedStorageRequiredError,
    UnroutableMessageError,
)
from qtasks_rabbitmq.names import Names
from qtasks_rabbitmq.storage import DirectReplyStorage

__all__ = [
    "DirectReplyStorage",
    "Names",
    "QTasksRabbitMQError",
    "RabbitMQBroker",
    "RabbitMQBrokerError",
    "RabbitMQConnectionError",
    "SharedStorageRequiredError",
    "UnroutableMessageError",
    "__version__",
]
