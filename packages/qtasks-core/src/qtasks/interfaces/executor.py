"""The TaskExecutor interface: running one attempt of a task and reporting how it ended."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qtasks.task import TaskStatus

if TYPE_CHECKING:
    from anyio import CapacityLimiter

    from qtasks.context import BaseTaskContext
    from qtasks.definition import TaskDefinition
    from qtasks.interfaces.worker import Worker
    from qtasks.message import TaskMessage
    from qtasks.middleware import TaskMiddleware
    from qtasks.task import Task

__all__ = ["Outcome", "TaskCall", "TaskExecutor"]


@dataclass(slots=True)
class TaskCall:
    """Everything an executor gets for one attempt.

    ``args`` and ``kwargs`` are what the function receives (with the task object first when
    ``echo=True``). ``record`` is the live record (status process); ``publish_progress``
    stores a yielded value in it so readers see the task advance. ``thread_limiter`` caps the
    worker threads that sync tasks use. ``worker`` is the worker running the attempt (``None``
    when the testing kit runs it eagerly); ``middlewares`` wrap the function call, outermost
    first; ``plugin_data`` is scratch space plugins share for the length of one attempt.
    """

    definition: TaskDefinition
    message: TaskMessage
    record: Task
    context: BaseTaskContext
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    thread_limiter: CapacityLimiter | None = None
    worker: Worker | None = None
    middlewares: tuple[TaskMiddleware, ...] = ()
    plugin_data: dict[Any, Any] = field(default_factory=dict)

    async def publish_progress(self, value: Any) -> None:
        """Record a yielded value and store it while the task keeps running.

        A value the serializer cannot store ends the attempt with a ``TypeError`` naming the
        task, before it can spoil the record.
        """
        serializer = self.context.app.serializer
        if not serializer.can_encode(value):
            raise TypeError(
                f"task '{self.definition.name}' yielded a {type(value).__name__}, which "
                f"{serializer.name} cannot store as progress; yield JSON-compatible data "
                "(str, int, float, bool, None, list, dict) or give the app a serializer "
                "that handles this type"
            )
        self.record.progress.append(value)
        await self.context.save_progress()


@dataclass(slots=True)
class Outcome:
    """How one attempt ended.

    ``status`` is success, error, retry or cancel. For retry, ``retry_delay`` is the wait in
    seconds before the next attempt. ``exception`` is kept for hooks; it is never stored.
    """

    status: TaskStatus
    returning: Any = None
    error: str | None = None
    traceback: str | None = None
    retry_delay: float = 0.0
    cancel_reason: str | None = None
    exception: BaseException | None = None


class TaskExecutor(ABC):
    """Runs one attempt of a task. The worker owns concurrency, cancellation and settling."""

    @abstractmethod
    async def execute(self, call: TaskCall) -> Outcome:
        """Run the task once and describe the result; must not raise for task failures."""
