"""Celery on Redis, with the Redis result backend.

The worker is the prefork pool with two children (the machine's two cores), started through
``worker_main`` like ``celery worker`` with logging at WARNING. Gossip, mingle and heartbeat
are off: they coordinate a cluster of workers, and leaving them on only adds start-up time to a
single worker. Results are waited for with ``AsyncResult.get``, which the Redis backend wakes
through pub/sub (no client polling to tune).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from . import _tasks
from ._base import TaskName
from ._redis import RedisSystem

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["SYSTEMS", "CeleryRedis"]


def _app(broker: str, backend: str) -> Celery:
    from celery import Celery

    app = Celery("bench", broker=broker, backend=backend)
    app.conf.update(
        task_ignore_result=False,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    for name, body in _tasks.SYNC_BODIES.items():
        app.task(name=name)(body)
    return app


class CeleryRedis(RedisSystem):
    name = "celery"
    summary = (
        "prefork pool, 2 children; Redis broker and Redis result backend (pub/sub wake-up); "
        "--without-gossip --without-mingle --without-heartbeat; log level WARNING"
    )
    requires: ClassVar[tuple[str, ...]] = ("celery", "redis")
    distributions: ClassVar[tuple[str, ...]] = ("celery", "kombu")
    concurrency = 2
    asyncio_client = False

    def broker_url(self) -> str:
        """The broker URL Celery is given (the bench Redis; RabbitMQ for the variant)."""
        return self.url

    async def connect(self) -> None:
        self.app = _app(self.broker_url(), self.url)
        self.tasks = {name: self.app.tasks[name] for name in _tasks.SYNC_BODIES}

    async def disconnect(self) -> None:
        self.app.close()

    async def enqueue(self, task: TaskName, args: tuple[Any, ...]) -> None:
        self.tasks[task].delay(*args)

    async def call(self, task: TaskName, args: tuple[Any, ...], timeout: float) -> None:
        self.tasks[task].delay(*args).get(timeout=timeout)

    def serve(self) -> None:
        app = _app(self.broker_url(), self.url)
        app.worker_main(
            [
                "worker",
                "--loglevel=WARNING",
                "--pool=prefork",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--hostname=bench@%h",
            ]
        )


SYSTEMS = (CeleryRedis,)
