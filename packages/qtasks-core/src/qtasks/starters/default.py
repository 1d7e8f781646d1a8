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
    """Brings components and plugins up in order, runs worker and services, then all down.

    Global config, storage and broker start in that order, then plugins hear that the worker
    starts; stopping runs in reverse. The order follows what depends on what: the broker's
    ``publish``/``settle`` write to storage, the worker's first act is to subscribe to the
    global config, and plugins (``on_worker_start``, ``starting`` events) may use any
    component. A service that fails
    stops the worker too, so a process never keeps running half of what it was asked to run.
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
        """Start components and plugins, run worker and services, stop all in reverse order."""
        await self.open(app, worker)
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
            await self.close(app, worker)
        if failures:
            raise failures[0]
