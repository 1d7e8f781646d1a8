"""Taskiq with taskiq-redis: ``ListQueueBroker`` (BRPOP) and ``RedisAsyncResultBackend``.

The worker is taskiq's command line with one worker process and at most 10 async tasks at
once, at log level WARNING, pointed at the ``make_broker`` factory below. Results are waited
for with ``wait_result(check_interval=0.01)``: taskiq's client polls, and its default interval
(0.2 s) would make W3 native measure the interval rather than taskiq.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _tasks
from ._base import Environment, TaskName
from ._redis import RedisSystem

if TYPE_CHECKING:
    from taskiq import AsyncBroker
    from taskiq.decor import AsyncTaskiqDecoratedTask

__all__ = ["SYSTEMS", "TaskiqRedis", "make_broker"]

#: Client-side result polling interval (taskiq's default is 0.2 s).
CHECK_INTERVAL = 0.01


def _broker(url: str) -> tuple[AsyncBroker, dict[TaskName, AsyncTaskiqDecoratedTask[Any, Any]]]:
    from taskiq_redis import ListQueueBroker, RedisAsyncResultBackend

    broker = ListQueueBroker(url).with_result_backend(RedisAsyncResultBackend(url))
    tasks = {name: broker.task(task_name=name)(body) for name, body in _tasks.ASYNC_BODIES.items()}
    return broker, tasks


def make_broker() -> AsyncBroker:
    """What ``taskiq worker benchmarks.systems.taskiq_redis:make_broker`` calls."""
    broker, _ = _broker(Environment.current().url("redis"))
    return broker


class TaskiqRedis(RedisSystem):
    name = "taskiq"
    summary = (
        "taskiq worker, 1 process, --max-async-tasks 10; taskiq-redis ListQueueBroker (BRPOP) "
        "and RedisAsyncResultBackend; wait_result(check_interval=0.01); log level WARNING"
    )
    requires = ("taskiq", "taskiq_redis")
    distributions = ("taskiq", "taskiq-redis")
    concurrency = 10

    async def connect(self) -> None:
        self.broker, self.tasks = _broker(self.url)
        await self.broker.startup()

    async def disconnect(self) -> None:
        await self.broker.shutdown()

    async def enqueue(self, task: TaskName, args: tuple[Any, ...]) -> None:
        await self.tasks[task].kiq(*args)

    async def call(self, task: TaskName, args: tuple[Any, ...], timeout: float) -> None:
        sent = await self.tasks[task].kiq(*args)
        result = await sent.wait_result(check_interval=CHECK_INTERVAL, timeout=timeout)
        if result.is_err:
            raise RuntimeError(f"{task} failed: {result.error!r}")

    def worker_command(self) -> list[str]:
        return [
            self.env.python,
            "-m",
            "taskiq",
            "worker",
            f"{__name__}:make_broker",
            "--workers=1",
            f"--max-async-tasks={self.concurrency}",
            "--log-level=WARNING",
        ]


SYSTEMS = (TaskiqRedis,)
