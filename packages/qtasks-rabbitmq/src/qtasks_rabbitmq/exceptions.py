"""Errors of the RabbitMQ backend, each also under the matching core category.

::

    QTasksRabbitMQError (QTasksError)
    ├── RabbitMQBrokerError (BrokerError)
    │   ├── RabbitMQConnectionError (BrokerConnectionError)
    │   └── UnroutableMessageError     a publish no queue accepted
    └── SharedStorageRequiredError (StorageError)
"""

from __future__ import annotations

from qtasks.exceptions import BrokerConnectionError, BrokerError, QTasksError, StorageError

__all__ = [
    "QTasksRabbitMQError",
    "RabbitMQBrokerError",
    "RabbitMQConnectionError",
    "SharedStorageRequiredError",
    "UnroutableMessageError",
]


class QTasksRabbitMQError(QTasksError):
    """Root of the errors raised by qtasks-rabbitmq."""


class RabbitMQBrokerError(QTasksRabbitMQError, BrokerError):
    """RabbitMQ refused an operation (a declare with other arguments, a nacked publish...)."""


class RabbitMQConnectionError(RabbitMQBrokerError, BrokerConnectionError):
    """RabbitMQ could not be reached, or not again within the allowed time."""


class UnroutableMessageError(RabbitMQBrokerError):
    """RabbitMQ returned a publish because no queue was bound to receive it."""

    def __init__(self, queue: str, target: str, detail: str) -> None:
        self.queue = queue
        self.target = target
        super().__init__(
            f"RabbitMQ could not route a message for queue '{queue}' (to {target!r}): "
            f"{detail}. Something deleted the queue or its delay exchanges while this "
            "process was using them; restart the process so they are declared again"
        )


class SharedStorageRequiredError(QTasksRabbitMQError, StorageError):
    """A record was asked for that only a shared storage could have."""

    def __init__(self, uuid: str, operation: str) -> None:
        self.uuid = uuid
        self.operation = operation
        super().__init__(
            f"{operation} for task {uuid} needs a shared storage: without one, RabbitMQ "
            "carries each result back only to the process that queued the task (direct "
            "reply-to), and this process did not queue it (or its result has expired). "
            "Give the app a storage every process reaches, for example "
            "QueueTasks(broker='amqp://...', storage='redis://127.0.0.1:6379/0')"
        )
