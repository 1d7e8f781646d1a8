"""arq on Redis, with results kept (``keep_result``, arq's default of an hour).

The worker is started from Python (``arq.worker.Worker(...).run()``, what the ``arq`` command
does) with at most 10 jobs at once, at log level WARNING (arq's command line logs every job
at INFO). ``arq`` keeps arq's worker ``poll_delay`` of 0.5 s; ``arq@fastpoll`` sets 10 ms
and shows what the design does without that floor. Results are waited for with
``Job.result(poll_delay=0.01)`` (the client polls; its default is 0.5 s).

arq 0.25 reads the result key and the queue in two commands, so a job finishing in between
raises a spurious ``ResultNotFound``; the adapter then reads the result once more and counts
``result_races`` in the JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from . import _tasks
from ._base import TaskName
from ._redis import RedisSystem

if TYPE_CHECKING:
    from arq.connections import ArqRedis

__all__ = ["SYSTEMS", "Arq", "ArqFastPoll"]

#: Client-side result polling interval (arq's default is 0.5 s).
RESULT_POLL = 0.01


async def noop(ctx: dict[str, Any], key: str) -> None:
    await _tasks.anoop(key)


async def probe(ctx: dict[str, Any], key: str, token: str) -> None:
    await _tasks.aprobe(key, token)


async def nap(ctx: dict[str, Any], key: str, seconds: float) -> None:
    await _tasks.anap(key, seconds)


class Arq(RedisSystem):
    name = "arq"
    summary = (
        "arq Worker, max_jobs 10, worker poll_delay 0.5 s (default); keep_result 3600 s; "
        "Job.result(poll_delay=0.01); log level WARNING"
    )
    requires = ("arq", "redis")
    distributions = ("arq",)
    concurrency = 10
    poll_delay: ClassVar[float] = 0.5

    async def connect(self) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings

        self.pool: ArqRedis = await create_pool(RedisSettings.from_dsn(self.url))

    async def disconnect(self) -> None:
        await self.pool.aclose()

    async def enqueue(self, task: TaskName, args: tuple[Any, ...]) -> None:
        await self.pool.enqueue_job(task, *args)

    async def call(self, task: TaskName, args: tuple[Any, ...], timeout: float) -> None:
        from arq.jobs import ResultNotFound

        job = await self.pool.enqueue_job(task, *args)
        assert job is not None, "arq returns None only for a duplicate job id"
        try:
            await job.result(timeout=timeout, poll_delay=RESULT_POLL)
        except ResultNotFound:
            info = await job.result_info()
            if info is None:
                raise
            self.count("result_races")
            if not info.success:
                raise RuntimeError(f"{task} failed: {info.result!r}") from None

    def serve(self) -> None:
        from arq import func
        from arq.connections import RedisSettings
        from arq.worker import Worker

        worker = Worker(
            functions=[func(noop, name="noop"), func(probe, name="probe"), func(nap, name="nap")],
            redis_settings=RedisSettings.from_dsn(self.url),
            max_jobs=self.concurrency,
            poll_delay=self.poll_delay,
            keep_result=3600,
        )
        worker.run()


class ArqFastPoll(Arq):
    name = "arq@fastpoll"
    summary = "as arq, with the worker's poll_delay at 10 ms"
    poll_delay = 0.01


SYSTEMS = (Arq, ArqFastPoll)
