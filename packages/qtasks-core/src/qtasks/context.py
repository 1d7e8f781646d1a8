"""The execution context a running task can see: its identity and the app's infrastructure.

Async tasks get a ``TaskContext`` whose I/O methods are coroutines; sync tasks run in a
worker thread and get a ``SyncTaskContext`` whose same-named methods block that thread
instead. Both are built by the worker for each attempt, so nothing here exists only in tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, NoReturn

import anyio
import anyio.from_thread

from qtasks.exceptions import CancelTask
from qtasks.task import Task, utcnow

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks
    from qtasks.definition import TaskDefinition
    from qtasks.interfaces.broker import Broker
    from qtasks.interfaces.global_config import GlobalConfig
    from qtasks.interfaces.storage import Storage
    from qtasks.message import TaskMessage

__all__ = ["CURRENT_TASK", "BaseTaskContext", "SyncTaskContext", "TaskContext", "current_task_uuid"]

#: The uuid of the task whose attempt runs in this context (worker threads and calls back into
#: the loop inherit it), so ``add_task`` inside a task records that task as the parent.
CURRENT_TASK: ContextVar[str | None] = ContextVar("qtasks_current_task", default=None)


def current_task_uuid() -> str | None:
    """The uuid of the task running here, or ``None`` outside any task."""
    return CURRENT_TASK.get()


class _TaskLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Adds the task's name and uuid to every record, as attributes and in the message."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return f"[{extra['task_name']} {extra['task_uuid']}] {msg}", kwargs


class BaseTaskContext:
    """What every context offers, whatever the task's kind."""

    def __init__(
        self,
        app: QueueTasks,
        definition: TaskDefinition,
        message: TaskMessage,
        record: Task,
    ) -> None:
        self._app = app
        self._definition = definition
        self._message = message
        self._record = record
        self._interrupt_reason = ""

    @property
    def task_uuid(self) -> str:
        """The uuid of the running task."""
        return self._message.uuid

    @property
    def task_name(self) -> str:
        """The registered name of the running task."""
        return self._message.task_name

    @property
    def attempt(self) -> int:
        """1 on the first run, 2 on the first retry, and so on."""
        return self._message.attempt

    @property
    def parent_uuid(self) -> str | None:
        """The task that queued this one, if any."""
        return self._message.parent_uuid

    @property
    def queue(self) -> str:
        """The queue the task came from."""
        return self._message.queue

    @property
    def app(self) -> QueueTasks:
        """The async app the worker belongs to."""
        return self._app

    @property
    def broker(self) -> Broker:
        """The app's broker."""
        return self._app.broker

    @property
    def storage(self) -> Storage:
        """The app's storage."""
        return self._app.storage

    @property
    def global_config(self) -> GlobalConfig:
        """The app's global config."""
        return self._app.global_config

    def get_logger(self, name: str | None = None) -> logging.LoggerAdapter:  # type: ignore[type-arg]
        """A logger whose records carry ``task_name`` and ``task_uuid``."""
        logger = logging.getLogger(f"qtasks.task.{name or self.task_name}")
        return _TaskLogger(logger, {"task_name": self.task_name, "task_uuid": self.task_uuid})

    def get_config(self) -> Mapping[str, Any]:
        """The app's settings (name, queues, serializer, ...), read-only."""
        return self._app.config

    def cancel(self, reason: str = "") -> NoReturn:
        """End the task now as status ``cancel``, storing ``reason`` in ``Task.cancel_reason``."""
        raise CancelTask(reason)

    def interrupt(self, reason: str) -> None:
        """Called by the worker when the task is cancelled, to wake a blocking ``sleep``."""
        self._interrupt_reason = reason

    async def save_progress(self) -> None:
        """Store the live record (with its progress) while the task runs."""
        self._record.updated_at = utcnow()
        await self._app.storage.save([self._record])


class TaskContext(BaseTaskContext):
    """The context of an async task: I/O helpers are coroutines."""

    async def sleep(self, seconds: float) -> None:
        """Sleep without blocking the loop; a cancel or ``max_time`` interrupts it."""
        await anyio.sleep(seconds)

    async def get_task(self, uuid: str) -> Task | None:
        """Load another task's record."""
        return await self._app.get(uuid)

    async def get_metadata(self) -> Task | None:
        """Load this task's stored record (as others see it)."""
        return await self._app.get(self.task_uuid)


class SyncTaskContext(BaseTaskContext):
    """The context of a sync task: the same helpers, blocking the task's thread."""

    def __init__(
        self,
        app: QueueTasks,
        definition: TaskDefinition,
        message: TaskMessage,
        record: Task,
    ) -> None:
        super().__init__(app, definition, message, record)
        # Only a thread can be woken this way; async tasks are interrupted by cancellation.
        self._interrupted = threading.Event()

    def interrupt(self, reason: str) -> None:
        """Wake a ``sleep`` in the task's thread, which then raises ``CancelTask``."""
        super().interrupt(reason)
        self._interrupted.set()

    def sleep(self, seconds: float) -> None:
        """Sleep in the task's thread; returns early by raising ``CancelTask`` if cancelled."""
        if self._interrupted.wait(seconds):
            raise CancelTask(self._interrupt_reason)

    def get_task(self, uuid: str) -> Task | None:
        """Load another task's record."""
        return anyio.from_thread.run(self._app.get, uuid)

    def get_metadata(self) -> Task | None:
        """Load this task's stored record (as others see it)."""
        return anyio.from_thread.run(self._app.get, self.task_uuid)
