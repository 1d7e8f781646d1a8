"""One attempt of one task, from arguments to final record, shared by worker and eager mode.

A worker and the testing kit's eager mode both run attempts through here, so a task behaves
the same under both. ``build_call`` makes the context and arguments; ``execute_attempt``
runs ``before_execute`` hooks and the executor; ``conclude_attempt`` runs the hooks that see
the outcome, writes the record and builds the retry message. The worker owns everything
around them: concurrency, cancel scopes, settling.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Awaitable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import anyio
import anyio.from_thread

from qtasks.bound import AsyncTask, SyncTask
from qtasks.context import BaseTaskContext, SyncTaskContext, TaskContext
from qtasks.exceptions import CancelTask
from qtasks.executor.default import failure_outcome
from qtasks.interfaces.broker import OutgoingMessage
from qtasks.interfaces.executor import Outcome, TaskCall, TaskExecutor
from qtasks.plugins._manager import ATTEMPT_ENDING, Hook, Plugins, TaskHooks
from qtasks.task import Attempt, Task, TaskStatus, utcnow

if TYPE_CHECKING:
    from anyio import CapacityLimiter

    from qtasks.asyncio import QueueTasks
    from qtasks.definition import TaskDefinition
    from qtasks.interfaces.worker import Worker
    from qtasks.message import TaskMessage

__all__ = [
    "abandon_attempt",
    "build_call",
    "conclude_attempt",
    "conclude_quietly",
    "execute_attempt",
    "executor_failure",
]

logger = logging.getLogger("qtasks.worker")

#: How long ``after_attempt`` hooks (dependency teardown) may hold up a task at shutdown.
TEARDOWN_TIMEOUT = 30.0


def build_call(
    app: QueueTasks,
    definition: TaskDefinition,
    message: TaskMessage,
    record: Task,
    *,
    worker: Worker | None,
    limiter: CapacityLimiter | None,
    hooks: TaskHooks,
) -> TaskCall:
    """The context, arguments and middlewares of one attempt."""
    context: BaseTaskContext
    args = message.args
    if definition.kind.is_async:
        context = TaskContext(app, definition, message, record)
        if definition.echo:
            args = (AsyncTask(definition, app, context), *args)
    else:
        context = SyncTaskContext(app, definition, message, record)
        if definition.echo:
            args = (SyncTask(definition, app, anyio.from_thread.run, context), *args)
    return TaskCall(
        definition,
        message,
        record,
        context,
        args,
        dict(message.kwargs),
        limiter,
        worker,
        hooks.middlewares,
    )


def execute_attempt(app: QueueTasks, call: TaskCall, hooks: TaskHooks) -> Awaitable[Outcome]:
    """Run ``before_execute`` hooks, then the executor; await the result.

    Task failures come back as outcomes. An exception means the executor itself broke:
    callers turn it into an outcome with ``executor_failure``. Cancellation propagates; the
    caller's cancel scope turns it into a cancel or a hand-back. ``hooks`` is
    ``app.plugins.for_task(call.definition)``. Without hooks this is the executor's own
    coroutine, with no frame added on the hot path.
    """
    executor = call.definition.executor or app.executor
    if hooks.before_execute:
        return _hooked(call, hooks, executor)
    return executor.execute(call)


async def _hooked(call: TaskCall, hooks: TaskHooks, executor: TaskExecutor) -> Outcome:
    try:
        await Plugins.before_execute_all(hooks.before_execute, call)
    except CancelTask as exc:
        return Outcome(TaskStatus.CANCEL, cancel_reason=exc.reason, exception=exc)
    except ATTEMPT_ENDING as exc:
        return failure_outcome(exc)
    return await executor.execute(call)


def executor_failure(app: QueueTasks, call: TaskCall, exc: Exception) -> Outcome:
    """The error outcome of an executor that raised instead of returning an outcome."""
    executor = call.definition.executor or app.executor
    return Outcome(
        TaskStatus.ERROR,
        error=f"executor {type(executor).__name__} failed: {exc!r}",
        traceback="".join(traceback.format_exception(exc)),
        exception=exc,
    )


def conclude_quietly(
    app: QueueTasks, call: TaskCall, outcome: Outcome, hooks: TaskHooks
) -> tuple[Task, Outcome, OutgoingMessage | None] | None:
    """``conclude_attempt`` for the common case where no hook has anything to see.

    That is a success whose result the serializer takes, with no plugin watching successes
    or record writes. Returns ``None`` in every other case: call ``conclude_attempt``.
    """
    if (
        outcome.status is not TaskStatus.SUCCESS
        or not hooks.quiet_success
        or app.plugins.before_storage_save
    ):
        return None
    if not app.serializer.can_encode(outcome.returning):
        return None  # conclude_attempt turns it into an error, for on_error hooks to see
    _write(app, call, outcome)
    return call.record, outcome, None


async def conclude_attempt(
    app: QueueTasks, call: TaskCall, outcome: Outcome, hooks: TaskHooks
) -> tuple[Task, Outcome, OutgoingMessage | None]:
    """Pass ``outcome`` through the plugins, write it into the record, build any retry.

    Returns the record to store, the final outcome and the retry message (or ``None``).
    """
    plugins = app.plugins
    if outcome.status is TaskStatus.SUCCESS:
        if hooks.after_execute:
            outcome.returning = await plugins.replace_value(
                hooks.after_execute, outcome.returning, call
            )
        outcome = _storable(app, call, outcome)
    if outcome.status is TaskStatus.ERROR and hooks.on_error:
        outcome = await plugins.replace_value(hooks.on_error, outcome, call, expect=Outcome)
        outcome = _storable(app, call, outcome)
    if outcome.status is TaskStatus.RETRY and hooks.on_retry:
        outcome = await plugins.replace_value(hooks.on_retry, outcome, call, expect=Outcome)
    if outcome.status is TaskStatus.SUCCESS and hooks.on_success:
        await plugins.notify(hooks.on_success, call, outcome.returning)
    elif outcome.status is TaskStatus.CANCEL and hooks.on_cancel:
        await plugins.notify(hooks.on_cancel, call, outcome)
    send = _write(app, call, outcome)
    record = call.record
    if send is not None and plugins.before_broker_send:
        send = await plugins.replace_value(plugins.before_broker_send, send, expect=OutgoingMessage)
    if plugins.before_storage_save:
        record = await plugins.replace_value(plugins.before_storage_save, record, expect=Task)
    if hooks.after_attempt:
        await _after_attempt(plugins, hooks.after_attempt, call, outcome)
    return record, outcome, send


async def abandon_attempt(app: QueueTasks, call: TaskCall, hooks: TaskHooks) -> None:
    """Close an attempt that a shutdown interrupted: ``after_attempt`` sees status ``new``."""
    if hooks.after_attempt:
        outcome = Outcome(TaskStatus.NEW, error="interrupted by a worker shutdown")
        await _after_attempt(app.plugins, hooks.after_attempt, call, outcome)


async def _after_attempt(
    plugins: Plugins, hooks: list[Hook], call: TaskCall, outcome: Outcome
) -> None:
    with anyio.CancelScope(shield=True), anyio.move_on_after(TEARDOWN_TIMEOUT) as scope:
        await plugins.notify(hooks, call, outcome)
    if scope.cancelled_caught:
        logger.error(
            "after_attempt hooks of task %s (%s) took over %gs; gave up waiting",
            call.message.task_name,
            call.message.uuid,
            TEARDOWN_TIMEOUT,
        )


def _storable(app: QueueTasks, call: TaskCall, outcome: Outcome) -> Outcome:
    """``outcome``, or an error in its place for a success whose result cannot be stored."""
    if outcome.status is not TaskStatus.SUCCESS:
        return outcome
    try:
        app.serializer.dumps(outcome.returning)
    except (TypeError, ValueError) as exc:
        return Outcome(
            TaskStatus.ERROR,
            error=(
                f"TypeError: the result of task '{call.message.task_name}' "
                f"({type(outcome.returning).__name__}) cannot be stored by "
                f"{app.serializer.name}: {exc}. Return JSON-compatible data or "
                "give the app a serializer that handles this type"
            ),
        )
    return outcome


def _write(app: QueueTasks, call: TaskCall, outcome: Outcome) -> OutgoingMessage | None:
    """Write ``outcome`` into ``call.record``; return the next attempt's message on retry."""
    message = call.message
    record = call.record
    status = outcome.status
    now = utcnow()
    attempt = Attempt(message.attempt, status, record.started_at, now, outcome.error)
    record.status = status
    record.updated_at = now
    record.attempts.append(attempt)
    record.returning = outcome.returning if status is TaskStatus.SUCCESS else None
    record.error = outcome.error
    record.traceback = outcome.traceback
    record.cancel_reason = outcome.cancel_reason if status is TaskStatus.CANCEL else None
    if status is not TaskStatus.RETRY:
        record.finished_at = now
        return None
    eta = time.time() + outcome.retry_delay if outcome.retry_delay > 0 else None
    record.eta = None if eta is None else datetime.fromtimestamp(eta, timezone.utc)
    following = replace(
        message,
        attempt=message.attempt + 1,
        eta=eta,
        history=[*message.history, attempt.to_dict()],
    )
    body = following.encode(app.serializer)
    return OutgoingMessage(message.uuid, message.queue, message.priority, body, eta)
