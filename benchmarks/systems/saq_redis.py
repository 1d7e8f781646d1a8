"""SAQ on Redis (results are kept on the job, SAQ's default).

The worker is SAQ's command line (``python -m saq``, logging at WARNING by default) with
``settings`` below: one process, concurrency 10. Results are waited for with
``Queue.apply(poll_interval=0.01)``, which polls (default 0.5 s). SAQ passes arguments by
keyword only, and ``key`` names a job field, so the counter key travels as ``counter``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _tasks
from ._base import Environment, TaskName
from ._redis import RedisSystem

if TYPE_CHECKING:
    from saq import Queue

__all__ = ["SYSTEMS", "Saq", "settings"]

QUEUE = "bench"
#: Client-side result polling interval for ``Queue.apply`` (SAQ's default is 0.5 s).
POLL_INTERVAL = 0.01
#: Positional bench arguments -> SAQ keyword names.
_ARGS: dict[TaskName, tuple[str, ...]] = {
    "noop": ("counter",),
    "probe": ("counter", "token"),
    "nap": ("counter", "seconds"),
}


async def noop(ctx: dict[str, Any], *, counter: str) -> None:
    await _tasks.anoop(counter)


async def probe(ctx: dict[str, Any], *, counter: str, token: str) -> None:
    await _tasks.aprobe(counter, token)


async def nap(ctx: dict[str, Any], *, counter: str, seconds: float) -> None:
    await _tasks.anap(counter, seconds)


def _queue(url: str) -> Queue:
    from saq import Queue

    return Queue.from_url(url, name=QUEUE)


def settings() -> dict[str, Any]:
    """What ``python -m saq benchmarks.systems.saq_redis.settings`` runs."""
    return {
        "queue": _queue(Environment.current().url("redis")),
        "functions": [("noop", noop), ("probe", probe), ("nap", nap)],
        "concurrency": Saq.concurrency,
    }


class Saq(RedisSystem):
    name = "saq"
    summary = (
        "saq worker (CLI), 1 process, concurrency 10; results kept on the job (default TTL); "
        "Queue.apply(poll_interval=0.01); log level WARNING"
    )
    requires = ("saq", "redis")
    distributions = ("saq",)
    concurrency = 10

    async def connect(self) -> None:
        self.queue = _queue(self.url)
        await self.queue.connect()

    async def disconnect(self) -> None:
        await self.queue.disconnect()

    async def enqueue(self, task: TaskName, args: tuple[Any, ...]) -> None:
        await self.queue.enqueue(task, **dict(zip(_ARGS[task], args, strict=True)))

    async def call(self, task: TaskName, args: tuple[Any, ...], timeout: float) -> None:
        kwargs = dict(zip(_ARGS[task], args, strict=True))
        await self.queue.apply(task, timeout=timeout, poll_interval=POLL_INTERVAL, **kwargs)

    def worker_command(self) -> list[str]:
        return [self.env.python, "-m", "saq", f"{__name__}.settings"]


SYSTEMS = (Saq,)
