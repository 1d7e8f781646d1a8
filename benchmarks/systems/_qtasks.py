"""The QTasks producer side, shared by every QTasks row (memory, Redis, RabbitMQ, Kafka).

Only the public API is used: ``QueueTasks(broker=URL)``, ``@app.task``, ``add_task``,
``add_tasks``, ``add_task(..., timeout=)`` and the broker's ``stats``. The async app is the
producer, since QTasks is async-native and the harness runs on an event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._base import TaskName

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks

__all__ = ["APP_NAME", "QTasksProducer", "make_app"]

#: The app name (the namespace of QTasks' queues and keys) for every QTasks row.
APP_NAME = "bench"


def make_app(
    broker: str | None, tasks: dict[TaskName, Callable[..., Any]], storage: str | None = None
) -> QueueTasks:
    """An async app on ``broker`` and ``storage`` (None: the broker's default, or in memory)
    with ``tasks`` registered by name."""
    from qtasks.asyncio import QueueTasks

    app = QueueTasks(APP_NAME, broker=broker, storage=storage)
    for name, func in tasks.items():
        app.task(name=name)(func)
    return app


class QTasksProducer:
    """``System``'s producer methods for a QTasks app held in ``self.app``."""

    app: QueueTasks

    async def enqueue(self, task: TaskName, args: tuple[Any, ...]) -> None:
        await self.app.add_task(task, *args)

    async def enqueue_bulk(self, task: TaskName, calls: Sequence[tuple[Any, ...]]) -> None:
        await self.app.add_tasks(task, calls)

    async def call(self, task: TaskName, args: tuple[Any, ...], timeout: float) -> None:
        done = await self.app.add_task(task, *args, timeout=timeout)
        if done.status != "success":
            raise RuntimeError(f"{task} ended as {done.status}: {done.traceback}")

    async def queued(self) -> int | None:
        (stats,) = await self.app.broker.stats([self.app.default_queue])
        return stats.total_ready
