"""The Plugin base class: one no-op method per event the runtime exposes.

A plugin overrides only the hooks it needs, with ``def`` or ``async def``. The app looks at
which methods a plugin's class overrides once, when the plugin is added, and keeps a list per
hook; a hook nobody overrides is never called, so an app pays only for the hooks in use.

Hooks named ``before_*`` (and ``on_register``, ``on_broker_receive``, ``on_worker_start``) run
in the order plugins were added; the ones that see an outcome (``after_*``, ``on_success``,
``on_error``, ``on_retry``, ``on_cancel``, ``on_worker_stop``, ``on_component_stop``) run in
reverse order, so the first plugin added wraps all the others.

A hook that returns something other than ``None`` replaces the value it was given, where the
hook's docstring says so; ``None`` keeps it. A hook that raises is logged with the plugin's
name and skipped: the task carries on. The exceptions to that rule are control flow on
purpose: ``before_execute`` may raise ``Retry``, ``CancelTask`` or a ``TaskError`` to end the
attempt, and ``on_register`` may raise ``ConfigurationError`` to refuse a task.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, Union

if TYPE_CHECKING:
    from qtasks.definition import TaskDefinition
    from qtasks.interfaces.broker import Delivery, OutgoingMessage
    from qtasks.interfaces.component import Component
    from qtasks.interfaces.executor import Outcome, TaskCall
    from qtasks.interfaces.worker import Worker
    from qtasks.message import TaskMessage
    from qtasks.task import Task

__all__ = ["AFTER_HOOKS", "HOOKS", "TASK_HOOKS", "MaybeAwaitable", "Plugin"]

T = TypeVar("T")
#: A hook may be written with ``def`` or ``async def``.
MaybeAwaitable: TypeAlias = Union[T, Awaitable[T]]  # noqa: UP007 - a generic alias needs Union


class Plugin:
    """Base class of every plugin; every hook here does nothing.

    ``name`` (the class name unless set) is what log lines about this plugin show.
    """

    name: str = ""

    def __repr__(self) -> str:
        return f"<plugin {self.plugin_name}>"

    @property
    def plugin_name(self) -> str:
        """The name used in log lines: ``name`` if set, else the class name."""
        return self.name or type(self).__name__

    def applies_to(self, definition: TaskDefinition) -> bool:
        """Whether this plugin's task hooks concern ``definition`` (asked once per task).

        Returning ``False`` keeps the task hooks of this plugin off that task's path entirely.
        """
        return True

    # -- configuration -----------------------------------------------------------------------

    def on_register(self, definition: TaskDefinition) -> None:
        """A task was registered, or this plugin was added after it was (sync only).

        Raise ``ConfigurationError`` to refuse the task at import time.
        """

    # -- producing ---------------------------------------------------------------------------

    def before_add_task(self, message: TaskMessage) -> MaybeAwaitable[TaskMessage | None]:
        """A task is about to be queued; return a replacement message to change it."""

    def after_add_task(self, task: Task) -> MaybeAwaitable[Task | None]:
        """A task was queued (status new); return a replacement for what the caller gets."""

    def before_broker_send(
        self, message: OutgoingMessage
    ) -> MaybeAwaitable[OutgoingMessage | None]:
        """Encoded bytes are about to reach the broker (new tasks and retries); may replace."""

    def before_storage_save(self, task: Task) -> MaybeAwaitable[Task | None]:
        """A record changes status and is about to be stored; return a replacement to change it.

        Called when a task is queued, started, finished, retried or cancelled.
        """

    def after_cancel(self, task: Task) -> MaybeAwaitable[None]:
        """A task was cancelled before any attempt of it began; ``task`` is its final record.

        That is ``app.cancel`` on a queued or delayed task, or a worker dropping one it had
        fetched but not started. A running attempt that is cancelled reaches ``on_cancel``.
        """

    # -- serving -----------------------------------------------------------------------------

    def on_worker_start(self, worker: Worker) -> MaybeAwaitable[None]:
        """A worker is about to consume (the components are started)."""

    def on_worker_stop(self, worker: Worker) -> MaybeAwaitable[None]:
        """A worker stopped consuming (the components are still up)."""

    def on_component_stop(self, component: Component) -> MaybeAwaitable[None]:
        """The broker, storage or global config is about to stop."""

    def on_broker_receive(self, delivery: Delivery) -> MaybeAwaitable[Delivery | None]:
        """A worker took bytes from the broker, before decoding them; may replace."""

    # -- one attempt of a task ---------------------------------------------------------------

    def before_execute(self, call: TaskCall) -> MaybeAwaitable[None]:
        """An attempt is about to run; ``call.args``/``call.kwargs`` may be changed in place."""

    def after_execute(self, call: TaskCall, result: Any) -> Any:
        """The function returned ``result``; return a value to replace the result."""

    def on_success(self, call: TaskCall, result: Any) -> MaybeAwaitable[None]:
        """The attempt succeeded with ``result`` (after every ``after_execute``)."""

    def on_error(self, call: TaskCall, outcome: Outcome) -> MaybeAwaitable[Outcome | None]:
        """The attempt failed; return a replacement outcome (the retry policy works here).

        The built-in ``RetryPlugin`` is added first, so it runs after every other
        ``on_error``: this hook sees each failure before the retry decision.
        """

    def on_retry(self, call: TaskCall, outcome: Outcome) -> MaybeAwaitable[Outcome | None]:
        """The attempt failed and will be retried after ``outcome.retry_delay``; may replace."""

    def on_cancel(self, call: TaskCall, outcome: Outcome) -> MaybeAwaitable[None]:
        """The attempt was cancelled (``outcome.cancel_reason`` says why)."""

    def after_attempt(self, call: TaskCall, outcome: Outcome) -> MaybeAwaitable[None]:
        """The attempt is over, whatever happened; ``call.record`` holds its final state.

        Runs even when the attempt was interrupted by a shutdown (``outcome.status`` is then
        ``new``: the task goes back to the queue). Resources opened in ``before_execute`` are
        released here.
        """


#: Every hook, mapped to whether it runs in reverse order of registration.
HOOKS: dict[str, bool] = {
    "on_register": False,
    "before_add_task": False,
    "after_add_task": True,
    "before_broker_send": False,
    "before_storage_save": False,
    "after_cancel": True,
    "on_worker_start": False,
    "on_worker_stop": True,
    "on_component_stop": True,
    "on_broker_receive": False,
    "before_execute": False,
    "after_execute": True,
    "on_success": True,
    "on_error": True,
    "on_retry": True,
    "on_cancel": True,
    "after_attempt": True,
}

#: The hooks of one attempt, which ``applies_to`` can keep off a task's path.
TASK_HOOKS = (
    "before_execute",
    "after_execute",
    "on_success",
    "on_error",
    "on_retry",
    "on_cancel",
    "after_attempt",
)

AFTER_HOOKS = frozenset(name for name, reverse in HOOKS.items() if reverse)
