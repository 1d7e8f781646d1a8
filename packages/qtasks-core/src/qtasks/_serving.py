"""The app's serving calls: a worker in this event loop, with or without signal handling.

A mixin of the async ``QueueTasks``, kept in its own file so each file holds one role.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import anyio
from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus as StartedStatus

from qtasks._groups import single_error
from qtasks._signals import watch_signals
from qtasks.exceptions import ConfigurationError
from qtasks.interfaces.worker import Worker
from qtasks.worker.worker import QueueWorker

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks
    from qtasks.interfaces.starter import Starter

__all__ = ["Serving"]


class Serving:
    """``serve``, ``run_forever`` and ``running`` of the async app."""

    if TYPE_CHECKING:
        worker: Worker | None
        starter: Starter
        current_worker: Worker | None

    def make_worker(self, options: Mapping[str, Any]) -> Worker:
        """The worker ``serve`` would use: the app's own, or a ``QueueWorker`` with ``options``.

        Options left as ``None`` take the worker's defaults.
        """
        given = {k: v for k, v in options.items() if v is not None}
        if self.worker is not None:
            if given:
                raise ConfigurationError(
                    f"this app was given a worker ({type(self.worker).__name__}); set "
                    f"{', '.join(sorted(given))} on that worker instead"
                )
            return self.worker
        return QueueWorker(**given)

    async def serve(
        self,
        *,
        concurrency: int | None = None,
        queues: list[str] | None = None,
        task_status: StartedStatus[Worker] = TASK_STATUS_IGNORED,
        **worker_options: Any,
    ) -> None:
        """Run a worker in this event loop until it is stopped (no signal handling)."""
        worker = self.make_worker({"concurrency": concurrency, "queues": queues, **worker_options})
        await self.serve_worker(worker, task_status=task_status)

    async def serve_worker(
        self, worker: Worker, *, task_status: StartedStatus[Worker] = TASK_STATUS_IGNORED
    ) -> None:
        """Run ``worker`` through the app's starter until it stops."""
        self.current_worker = worker
        try:
            with single_error():
                await self.starter.serve(cast("QueueTasks", self), worker, task_status=task_status)
        finally:
            self.current_worker = None

    async def run_forever(
        self,
        *,
        concurrency: int | None = None,
        queues: list[str] | None = None,
        handle_signals: bool = True,
        **worker_options: Any,
    ) -> None:
        """Serve until SIGINT/SIGTERM: the first drains gracefully, a second stops at once."""
        worker = self.make_worker({"concurrency": concurrency, "queues": queues, **worker_options})
        with single_error():
            async with anyio.create_task_group() as group:

                async def serve_then_cancel(*, task_status: StartedStatus[Worker]) -> None:
                    try:
                        await self.serve_worker(worker, task_status=task_status)
                    finally:
                        group.cancel_scope.cancel()

                if handle_signals:  # before serving, so no signal can slip past the handler
                    await group.start(watch_signals, worker)
                await group.start(serve_then_cancel)

    @asynccontextmanager
    async def running(
        self,
        *,
        concurrency: int | None = None,
        queues: list[str] | None = None,
        **worker_options: Any,
    ) -> AsyncIterator[Worker]:
        """Run a worker in this event loop for the ``async with`` body, then drain it.

        An error raised in the body propagates as itself once the worker has stopped.
        """
        worker = self.make_worker({"concurrency": concurrency, "queues": queues, **worker_options})
        with single_error():
            async with anyio.create_task_group() as group:
                await group.start(partial(self.serve_worker, worker))
                try:
                    yield worker
                finally:
                    worker.stop()
