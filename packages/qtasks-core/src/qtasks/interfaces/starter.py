"""The Starter interface: the order in which an app's parts come up and go down."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus as StartedStatus

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks
    from qtasks.interfaces.worker import Worker

__all__ = ["Starter"]


class Starter(ABC):
    """Owns a serving app's lifecycle: components, the worker, and any extra services.

    A custom starter can run more in the same process (a timer, a web server) by starting
    them next to the worker and stopping them when it stops.
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
