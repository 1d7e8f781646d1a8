"""DefaultStarter: components up in dependency order, the worker, extra services, all down again."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import anyio
from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus as StartedStatus

from qtasks.interfaces.starter import Starter

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks
    from qtasks.interfaces.worker import Worker

__all__ = ["DefaultStarter", "Service"]

logger = logging.getLogger("qtasks.starter")

#: An extra coroutine run beside the worker (a timer, a web server); cancelled when it stops.
Service = Callable[["QueueTasks"], Awaitable[None]]


class DefaultStarter(Starter):
    """Starts global config, storage, then broker; runs the worker and ``services``; stops all.

    The order follows what depends on what: the broker's ``publish``/``settle`` write to
    storage, and the worker's first act is to subscribe to the global config. Stopping runs
    in reverse. A service that fails stops the worker too, so a process never keeps running
    half of what it was asked to run.
    """

    def __init__(self, services: Sequence[Service] = ()) -> None:
        self.services = list(services)

    def add_service(self, service: Service) -> None:
        """Run ``service(app)`` beside the worker from the next ``serve`` on."""
        self.services.append(service)

    async def serve(
        self,
        app: QueueTasks,
        worker: Worker,
        *,
        task_status: StartedStatus[Worker] = TASK_STATUS_IGNORED,
    ) -> None:
        """Start components, run worker and services, stop components in reverse order."""
        await app.start()
        failures: list[BaseException] = []
        try:
            async with anyio.create_task_group() as group:

                async def run_worker(*, task_status: StartedStatus[Worker]) -> None:
                    try:
                        await worker.serve(app, task_status=task_status)
                    finally:
                        group.cancel_scope.cancel()

                async def run_service(service: Service) -> None:
                    try:
                        await service(app)
                    except Exception as exc:
                        logger.exception("service %r failed; stopping the worker", service)
                        failures.append(exc)
                        worker.stop(graceful=True)

                started = await group.start(run_worker)
                for service in self.services:
                    group.start_soon(run_service, service)
                task_status.started(started)
        finally:
            with anyio.CancelScope(shield=True):
                await app.stop()
        if failures:
            raise failures[0]
