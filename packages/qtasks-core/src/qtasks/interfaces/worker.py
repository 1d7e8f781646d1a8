"""The Worker interface: taking messages from the broker and running them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus as StartedStatus

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks

__all__ = ["Worker"]


class Worker(ABC):
    """A consumer of one app's queues.

    ``serve`` runs until ``stop`` is called (or the surrounding scope is cancelled) and
    reports readiness through ``task_status`` so callers can wait for it with
    ``TaskGroup.start``.
    """

    @abstractmethod
    async def serve(
        self, app: QueueTasks, *, task_status: StartedStatus[Worker] = TASK_STATUS_IGNORED
    ) -> None:
        """Consume and run tasks until stopped; hand back whatever was not finished."""

    @abstractmethod
    def stop(self, *, graceful: bool = True) -> None:
        """Ask ``serve`` to return; ``graceful`` lets running tasks finish first.

        Call it from the event loop the worker runs in.
        """

    @abstractmethod
    async def cancel(self, uuid: str, reason: str) -> bool:
        """Cancel a task this worker holds (queued locally or running); ``True`` if it did."""

    @property
    @abstractmethod
    def running(self) -> bool:
        """Whether ``serve`` is consuming right now."""
