"""QTasks on RabbitMQ through ``qtasks-rabbitmq``, used only through the public API.

``QueueTasks(broker="amqp://...", storage="redis://...")``: the recommended deployment, results
in Redis. ``qtasks-rabbitmq@reply`` gives no storage, so results travel back to the producer
by RabbitMQ's direct reply-to (a RabbitMQ-only deployment). The worker is
``app.run_forever(concurrency=10)`` in its own process, as for ``qtasks-redis``; the task bodies
and the BLPOP probe use the bench Redis as in every row.
"""

from __future__ import annotations

from typing import ClassVar

from .qtasks_redis import QTasksRedis

__all__ = ["SYSTEMS", "QTasksRabbitMQ", "QTasksRabbitMQReply"]


class QTasksRabbitMQ(QTasksRedis):
    name = "qtasks-rabbitmq"
    summary = (
        "QueueTasks(broker=amqp://..., storage=redis://...) from qtasks-rabbitmq; publisher "
        "confirms; worker app.run_forever(concurrency=10), 1 process; results in Redis; "
        "add_task(timeout=) waits; add_tasks for bulk; log level WARNING"
    )
    servers = ("redis", "amqp")
    rank = 2
    requires: ClassVar[tuple[str, ...]] = ("qtasks", "qtasks_rabbitmq", "qtasks_redis", "redis")
    distributions: ClassVar[tuple[str, ...]] = (
        "qtasks-core",
        "qtasks-rabbitmq",
        "qtasks-redis",
        "aio-pika",
    )

    def broker_url(self) -> str:
        return self.env.url("amqp")

    def storage_url(self) -> str | None:
        return self.url

    async def purge(self) -> None:
        await self.app.broker.purge([self.app.default_queue])
        await super().purge()


class QTasksRabbitMQReply(QTasksRabbitMQ):
    name = "qtasks-rabbitmq@reply"
    summary = (
        "as qtasks-rabbitmq with no storage: results come back to the producer by direct "
        "reply-to (RabbitMQ only; the task bodies still INCR the bench Redis)"
    )
    requires: ClassVar[tuple[str, ...]] = ("qtasks", "qtasks_rabbitmq", "redis")
    distributions: ClassVar[tuple[str, ...]] = ("qtasks-core", "qtasks-rabbitmq", "aio-pika")

    def storage_url(self) -> str | None:
        return None


SYSTEMS = (QTasksRabbitMQ, QTasksRabbitMQReply)
