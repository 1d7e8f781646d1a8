"""RetryPlugin: the built-in retry policy, on the same hook any other plugin uses.

It turns a failed attempt into a retry when the task's ``retry``, ``retry_on_exc`` and backoff
options (or a ``Retry`` raised by the task) allow it, and otherwise notes in the error that the
task gave up. Replace it (``app.plugins.replace(RetryPlugin, MyPolicy())``) for another policy.
"""

from __future__ import annotations

from qtasks.exceptions import Retry
from qtasks.executor.retry import retry_decision
from qtasks.interfaces.executor import Outcome, TaskCall
from qtasks.plugins.base import Plugin
from qtasks.task import TaskStatus

__all__ = ["RetryPlugin"]


class RetryPlugin(Plugin):
    """Retries failed attempts as each task's options say. Added to every app first."""

    def on_error(self, call: TaskCall, outcome: Outcome) -> Outcome | None:
        """Return a retry outcome, or the error annotated with why no retry happened."""
        exc = outcome.exception
        if exc is None:  # not a raised failure (an unstorable result, say): nothing to retry
            return None
        retry, delay, gave_up = retry_decision(call.definition, exc, call.message.attempt)
        if retry:
            return Outcome(
                TaskStatus.RETRY,
                error=outcome.error,
                traceback=outcome.traceback,
                retry_delay=delay,
                exception=exc,
            )
        if gave_up is None:
            return None
        if isinstance(exc, Retry):
            error = f"Retry requested ({exc.reason or 'no reason given'}) but {gave_up}"
        else:
            error = f"{outcome.error} ({gave_up})"
        return Outcome(TaskStatus.ERROR, error=error, traceback=outcome.traceback, exception=exc)
