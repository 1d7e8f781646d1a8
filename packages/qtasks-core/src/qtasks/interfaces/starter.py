"""The Starter interface: the order in which an app's parts come up and go down."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import anyio
from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus as StartedStatus

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks
    from qtasks.interfaces.worker import Worker

__all__ = ["Starter"]


class Starter(ABC):
    """Owns a serving app's lifecycle: components, plugins, the worker, any extra services.

    A custom starter can run more in the same process (a timer, a web server) by starting
    them next to the worker and stopping them when it stops. ``open`` and ``close`` bring the
    components and plugins up and down in the order the rest of QTasks expects; a custom
    ``serve`` calls them around the worker.
    """

    @abstractmethod
    async def serve(
        self,
        app: QueueTasks,
        worker: Worker,
        *,
        task_status: StartedStatus[Worker] = TASK_STATUS_IGNORED,
    ) -> None:
        """Start everything, run ``worker`` until it stops, then stop everything in reverse."""

    async def open(self, app: QueueTasks, worker: Worker) -> None:
        """Start global config, storage and broker, then tell plugins the worker starts.

        Plugins see ``on_worker_start`` (and ``starting`` events fire) with every component
        up, so a hook may already queue tasks or read the global config.
        """
        await app.start()
        if app.plugins.on_worker_start:
            await app.plugins.notify(app.plugins.on_worker_start, worker)

    async def close(self, app: QueueTasks, worker: Worker) -> None:
        """Tell plugins the worker stopped (its scope ends), then stop the components.

        Runs shielded from cancellation: it is the cleanup of a process that is going away.
        """
        with anyio.CancelScope(shield=True):
            try:
                if app.plugins.on_worker_stop:
                    await app.plugins.notify(app.plugins.on_worker_stop, worker)
            finally:
                await app.stop()
