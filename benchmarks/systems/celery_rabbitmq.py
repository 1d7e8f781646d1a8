"""Celery on RabbitMQ with the Redis result backend: how Celery is most often deployed.

The same worker as the ``celery`` row (prefork, 2 children, no gossip, mingle or heartbeat)
with ``broker="amqp://..."`` (py-amqp, Celery's default transport) and its defaults for that
broker: early acknowledgement, a prefetch of 4 per child. Results go to the bench Redis and
are waited for with ``AsyncResult.get`` (pub/sub wake-up), as in the Redis row.
"""

from __future__ import annotations

from .celery_redis import CeleryRedis

__all__ = ["SYSTEMS", "CeleryRabbitMQ"]


class CeleryRabbitMQ(CeleryRedis):
    name = "celery@rabbitmq"
    summary = (
        "as celery, with a RabbitMQ broker (py-amqp, default prefetch and acks) and the Redis "
        "result backend"
    )
    servers = ("redis", "amqp")
    distributions = ("celery", "kombu", "amqp")

    def broker_url(self) -> str:
        return self.env.url("amqp")

    async def purge(self) -> None:
        self.app.control.purge()
        await super().purge()


SYSTEMS = (CeleryRabbitMQ,)
