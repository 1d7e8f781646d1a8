"""RQ, started with its own command line (``python -m rq.cli``).

``rq`` is a worker pool of two forking workers (each job runs in a forked work horse);
``rq@simple`` is one ``SimpleWorker``, which runs jobs in its own process without forking.
Results are kept (RQ's default) and waited for with ``Job.latest_result(timeout=...)``, a
blocking XREAD on the result stream. Bulk enqueue is ``Queue.enqueue_many``. Tasks are
plain functions, found by import path in the worker (``benchmarks.systems._tasks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from . import _tasks
from ._base import TaskName
from ._redis import RedisSystem

if TYPE_CHECKING:
    from rq import Queue

__all__ = ["SYSTEMS", "RqPool", "RqSimple"]

QUEUE = "bench"


class RqPool(RedisSystem):
    name = "rq"
    summary = (
        "rq worker-pool with 2 forking workers (a work horse per job); results kept (default "
        "TTL); Job.latest_result(timeout=) blocking XREAD; enqueue_many for bulk; "
        "logging WARNING"
    )
    requires = ("rq", "redis")
    distributions = ("rq",)
    concurrency = 2
    bulk = True
    asyncio_client = False

    async def connect(self) -> None:
        from redis import Redis
        from rq import Queue

        self.redis = Redis.from_url(self.url)
        self.queue: Queue = Queue(QUEUE, connection=self.redis)

    async def disconnect(self) -> None:
        self.redis.close()

    async def enqueue(self, task: TaskName, args: tuple[Any, ...]) -> None:
        self.queue.enqueue(_tasks.SYNC_BODIES[task], *args)

    async def enqueue_bulk(self, task: TaskName, calls: Sequence[tuple[Any, ...]]) -> None:
        body = _tasks.SYNC_BODIES[task]
        self.queue.enqueue_many([self.queue.prepare_data(body, args) for args in calls])

    async def call(self, task: TaskName, args: tuple[Any, ...], timeout: float) -> None:
        job = self.queue.enqueue(_tasks.SYNC_BODIES[task], *args)
        result = job.latest_result(timeout=max(1, round(timeout)))
        if result is None:
            raise TimeoutError(f"no result for job {job.id} within {timeout} s")
        if result.type != result.Type.SUCCESSFUL:
            raise RuntimeError(f"job {job.id} ended as {result.type}: {result.exc_string}")

    async def queued(self) -> int | None:
        count: int = self.queue.count
        return count

    def worker_command(self) -> list[str]:
        return [
            self.env.python,
            "-m",
            "rq.cli",
            "worker-pool",
            f"--url={self.url}",
            "--num-workers=2",
            "--logging-level=WARNING",
            QUEUE,
        ]


class RqSimple(RqPool):
    name = "rq@simple"
    summary = "as rq, with one rq.worker.SimpleWorker (no fork per job; one job at a time)"
    concurrency = 1
    worker_class: ClassVar[str] = "rq.worker.SimpleWorker"

    def worker_command(self) -> list[str]:
        return [
            self.env.python,
            "-m",
            "rq.cli",
            "worker",
            f"--url={self.url}",
            f"--worker-class={self.worker_class}",
            "--logging_level=WARNING",
            QUEUE,
        ]


SYSTEMS = (RqPool, RqSimple)
