"""Retry policy: whether a failed attempt is retried, and how long to wait first."""

from __future__ import annotations

import random

from qtasks.definition import TaskDefinition
from qtasks.exceptions import Retry

__all__ = ["backoff_delay", "retry_decision"]


def backoff_delay(definition: TaskDefinition, attempt: int) -> float:
    """Delay before the attempt after ``attempt``: exponential, capped, with jitter.

    The nominal delay is ``retry_backoff * 2 ** (attempt - 1)`` capped at ``retry_backoff_max``;
    the actual delay is drawn uniformly from its upper half, so retries of many tasks that failed
    together spread out while each one still waits at least half the nominal time.
    """
    base = definition.retry_backoff
    if base <= 0:
        return 0.0
    nominal = min(definition.retry_backoff_max, base * 2.0 ** max(0, attempt - 1))
    return nominal / 2 + random.uniform(0, nominal / 2)


def retry_decision(
    definition: TaskDefinition, exc: BaseException, attempt: int
) -> tuple[bool, float, str | None]:
    """Return ``(retry?, delay, reason_if_not)`` for ``exc`` raised by attempt ``attempt``.

    ``retry=N`` allows N attempts after the first. An explicit ``Retry`` is honoured whatever
    ``retry_on_exc`` says; any other exception must match ``retry_on_exc`` when it is set.
    """
    if attempt > definition.retry:
        if definition.retry or isinstance(exc, Retry):
            return False, 0.0, f"gave up after {attempt} attempt(s) (retry={definition.retry})"
        return False, 0.0, None
    if isinstance(exc, Retry):
        delay = exc.delay if exc.delay is not None else backoff_delay(definition, attempt)
        return True, max(0.0, delay), None
    allowed = definition.retry_on_exc
    if not isinstance(exc, Exception if allowed is None else allowed):
        return False, 0.0, None
    return True, backoff_delay(definition, attempt), None
