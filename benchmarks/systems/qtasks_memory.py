"""QTasks on its in-memory components: producer and worker in one process, one event loop.

This is the floor of QTasks' own overhead (no network, no server): what issue 2's first
benchmark asks for, 10,000 no-op tasks with sync and with async task functions. The task
bodies count in a dict instead of a Redis INCR, since there is no Redis in this row; the
uniform BLPOP probe does not apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar

from ._base import System, TaskName
from ._qtasks import QTasksProducer, make_app

if TYPE_CHECKING:
    from collections.abc import Callable

    from qtasks.asyncio import QueueTasks

__all__ = ["SYSTEMS", "QTasksMemory", "QTasksMemorySync"]


class QTasksMemory(QTasksProducer, System):
    name = "qtasks-memory"
    summary = (
        "qtasks-core only: in-memory broker and storage; async task functions; the worker "
        "runs on the producer's event loop (concurrency 10); results stored"
    )
    requires = ("qtasks",)
    distributions = ("qtasks-core",)
    servers = ()
    concurrency = 10
    bulk = True
    probe = False
    rank = 0
    #: Sync task functions (run in QTasks' worker threads) instead of coroutines.
    sync_tasks: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._serving: contextlib.AsyncExitStack | None = None

    def _tasks(self) -> dict[TaskName, Callable[..., Any]]:
        counts, lock = self._counts, self._lock

        def noop(key: str) -> None:
            with lock:
                counts[key] += 1

        def nap(key: str, seconds: float) -> None:
            time.sleep(seconds)
            noop(key)

        async def anoop(key: str) -> None:
            with lock:
                counts[key] += 1

        async def anap(key: str, seconds: float) -> None:
            await asyncio.sleep(seconds)
            await anoop(key)

        if self.sync_tasks:
            return {"noop": noop, "nap": nap}
        return {"noop": anoop, "nap": anap}

    async def open(self) -> None:
        self.app: QueueTasks = make_app(None, self._tasks())
        await self.app.start()

    async def close(self) -> None:
        await self.stop_worker()
        await self.app.stop()

    async def start_worker(self) -> None:
        if self._serving is not None:
            raise RuntimeError("the worker is already running")
        # app.running() is entered and left by the harness's own task, as anyio requires.
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(self.app.running(concurrency=self.concurrency))
        self._serving = stack

    async def stop_worker(self) -> None:
        serving, self._serving = self._serving, None
        if serving is not None:
            await serving.aclose()

    async def purge(self) -> None:
        await self.app.broker.purge([self.app.default_queue])

    def worker_problem(self) -> str | None:
        # A worker that crashed cancels the harness through app.running()'s task group.
        return None if self._serving is not None else "no worker is running"

    async def completions(self, key: str) -> int:
        return self._counts[key]


class QTasksMemorySync(QTasksMemory):
    name = "qtasks-memory@sync"
    summary = (
        "as qtasks-memory, with sync task functions (run in QTasks' worker threads, never "
        "on the event loop)"
    )
    sync_tasks = True


SYSTEMS = (QTasksMemory, QTasksMemorySync)
