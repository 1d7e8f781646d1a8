"""Dramatiq on RabbitMQ (its first broker), with the Results middleware on Redis.

The same worker as the ``dramatiq`` row (the dramatiq CLI, 1 process x 2 threads) with
``RabbitmqBroker(url="amqp://...")`` at its defaults (pika; no publisher confirms). Results
are stored in the bench Redis and waited for with ``get_result(block=True)``.
"""

from __future__ import annotations

import logging

from ._base import Environment
from .dramatiq_redis import DramatiqRedis, build_broker

__all__ = ["SYSTEMS", "DramatiqRabbitMQ", "setup_worker"]


def setup_worker() -> None:
    """What ``dramatiq benchmarks.systems.dramatiq_rabbitmq:setup_worker`` calls per process."""
    logging.getLogger("dramatiq").setLevel(logging.WARNING)
    logging.getLogger("pika").setLevel(logging.WARNING)
    env = Environment.current()
    build_broker(env.url("redis"), env.url("amqp"))


class DramatiqRabbitMQ(DramatiqRedis):
    name = "dramatiq@rabbitmq"
    summary = (
        "as dramatiq (1 process x 2 threads), with RabbitmqBroker (pika, defaults) and the "
        "Results middleware on Redis"
    )
    servers = ("redis", "amqp")
    requires = ("dramatiq", "pika", "redis")
    distributions = ("dramatiq", "pika")
    setup = f"{__name__}:setup_worker"

    def broker_url(self) -> str:
        return self.env.url("amqp")

    async def purge(self) -> None:
        self.broker.flush_all()
        await super().purge()


SYSTEMS = (DramatiqRabbitMQ,)
