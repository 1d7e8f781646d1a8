"""Task objects bound to an app: what ``@app.task`` returns and what ``echo=True`` passes.

``AsyncTask.add_task`` is a coroutine; ``SyncTask.add_task`` blocks. Which one you get follows
where it will be called from: the sync app's decorator returns ``SyncTask`` (called from plain
code), the async app's returns ``AsyncTask``; with ``echo=True`` an async function receives
an ``AsyncTask`` and a sync function (running in a worker thread) a ``SyncTask``.
Calling the object itself runs the function directly, as Celery users expect.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from typing_extensions import ParamSpec

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks
    from qtasks.context import BaseTaskContext, SyncTaskContext, TaskContext
    from qtasks.definition import TaskDefinition
    from qtasks.task import Task

__all__ = ["AsyncTask", "SyncTask"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: Runs a coroutine function to completion from synchronous code and returns its result.
SyncRunner = Callable[[Callable[[], Coroutine[Any, Any, Any]]], Any]


class _BoundTask(Generic[P, R]):
    __slots__ = ("_app", "_ctx", "definition")

    def __init__(
        self, definition: TaskDefinition, app: QueueTasks, ctx: BaseTaskContext | None = None
    ) -> None:
        self.definition = definition
        self._app = app
        self._ctx = ctx

    @property
    def name(self) -> str:
        """The registered task name."""
        return self.definition.name

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function here and now, without a queue."""
        result: R = self.definition.func(*args, **kwargs)
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _options(self, options: dict[str, Any]) -> dict[str, Any]:
        if self._ctx is not None:
            options.setdefault("parent_uuid", self._ctx.task_uuid)
        return options


class AsyncTask(_BoundTask[P, R]):
    """A task bound to the async app; ``add_task`` is awaited."""

    __slots__ = ()

    @property
    def ctx(self) -> TaskContext:
        """The running attempt's context (only inside an ``echo=True`` task)."""
        from qtasks.context import TaskContext  # noqa: PLC0415 - import cycle

        if not isinstance(self._ctx, TaskContext):
            raise RuntimeError(f"task '{self.name}' has no context outside a running attempt")
        return self._ctx

    async def add_task(self, *args: Any, **kwargs: Any) -> Task:
        """Queue this task; same options as ``QueueTasks.add_task``.

        Inside a running task the new task records the running one as its parent.
        """
        return await self._app.add_task(self.name, *args, **self._options(kwargs))


class SyncTask(_BoundTask[P, R]):
    """A task bound to blocking code; ``add_task`` returns when the task is queued."""

    __slots__ = ("_runner",)

    def __init__(
        self,
        definition: TaskDefinition,
        app: QueueTasks,
        runner: SyncRunner,
        ctx: BaseTaskContext | None = None,
    ) -> None:
        super().__init__(definition, app, ctx)
        self._runner = runner

    @property
    def ctx(self) -> SyncTaskContext:
        """The running attempt's context (only inside an ``echo=True`` task)."""
        from qtasks.context import SyncTaskContext  # noqa: PLC0415 - import cycle

        if not isinstance(self._ctx, SyncTaskContext):
            raise RuntimeError(f"task '{self.name}' has no context outside a running attempt")
        return self._ctx

    def add_task(self, *args: Any, **kwargs: Any) -> Task:
        """Queue this task; same options as ``QueueTasks.add_task``."""
        task: Task = self._runner(
            partial(self._app.add_task, self.name, *args, **self._options(kwargs))
        )
        return task
