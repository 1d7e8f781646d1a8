"""Dramatiq on Redis, with the Results middleware on a Redis backend.

The worker is dramatiq's own command line (``python -m dramatiq``), pointed at
``setup_worker`` below, which builds the broker and declares the actors in each worker
process. Every actor has ``store_results=True`` (results on, like every row; it also stops
dramatiq warning about each discarded result). Results are waited for with
``Message.get_result(block=True)``, a blocking pop on the result key (no client polling).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from . import _tasks
from ._base import Environment, TaskName
from ._redis import RedisSystem

if TYPE_CHECKING:
    from dramatiq import Actor, Broker
    from dramatiq.results.backends import RedisBackend

__all__ = ["SYSTEMS", "DramatiqRedis", "DramatiqRedisTwoProcesses", "build_broker", "setup_worker"]


def build_broker(
    url: str, broker_url: str | None = None
) -> tuple[Broker, RedisBackend, dict[TaskName, Actor[Any, Any]]]:
    """Broker (Redis at ``url``, or RabbitMQ at an amqp ``broker_url``), results in Redis."""
    import dramatiq
    from dramatiq.results import Results
    from dramatiq.results.backends import RedisBackend

    broker: Broker
    if broker_url is not None and broker_url.startswith("amqp"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=broker_url)
    else:
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=broker_url or url)
    backend = RedisBackend(url=url)
    broker.add_middleware(Results(backend=backend))
    dramatiq.set_broker(broker)
    actors = {
        name: dramatiq.actor(body, actor_name=name, store_results=True, broker=broker)
        for name, body in _tasks.SYNC_BODIES.items()
    }
    return broker, backend, actors


def setup_worker() -> None:
    """What ``dramatiq benchmarks.systems.dramatiq_redis:setup_worker`` calls in each process."""
    logging.getLogger("dramatiq").setLevel(logging.WARNING)
    build_broker(Environment.current().url("redis"))


class DramatiqRedis(RedisSystem):
    name = "dramatiq"
    summary = (
        "1 worker process x 2 threads (dramatiq CLI); Redis broker; Results middleware on "
        "Redis, store_results=True; get_result(block=True); log level WARNING"
    )
    requires: ClassVar[tuple[str, ...]] = ("dramatiq", "redis")
    distributions: ClassVar[tuple[str, ...]] = ("dramatiq",)
    concurrency = 2
    asyncio_client = False
    processes: ClassVar[int] = 1
    threads: ClassVar[int] = 2

    #: ``module:function`` that the dramatiq CLI calls in each worker process.
    setup: ClassVar[str] = f"{__name__}:setup_worker"

    def broker_url(self) -> str:
        """The broker URL (the bench Redis; RabbitMQ for the variant)."""
        return self.url

    async def connect(self) -> None:
        self.broker, self.backend, self.actors = build_broker(self.url, self.broker_url())

    async def disconnect(self) -> None:
        self.broker.close()

    async def enqueue(self, task: TaskName, args: tuple[Any, ...]) -> None:
        self.actors[task].send(*args)

    async def call(self, task: TaskName, args: tuple[Any, ...], timeout: float) -> None:
        message = self.actors[task].send(*args)
        message.get_result(backend=self.backend, block=True, timeout=int(timeout * 1000))

    def worker_command(self) -> list[str]:
        return [
            self.env.python,
            "-m",
            "dramatiq",
            self.setup,
            f"--processes={self.processes}",
            f"--threads={self.threads}",
        ]


class DramatiqRedisTwoProcesses(DramatiqRedis):
    name = "dramatiq@2proc"
    summary = "as dramatiq, with 2 worker processes x 1 thread (uses both cores)"
    processes = 2
    threads = 1


SYSTEMS = (DramatiqRedis, DramatiqRedisTwoProcesses)
