"""Which timers belong to which app, so a worker (`qtasks ... run --timer`) can find them.

A timer attaches itself to its app when it is made. The mapping is weak: an app that is
dropped takes its timers with it.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks as AsyncQueueTasks
    from qtasks_timer.timer import AsyncTimer

__all__ = ["async_app_of", "attach", "attached"]

_TIMERS: weakref.WeakKeyDictionary[AsyncQueueTasks, list[AsyncTimer]] = weakref.WeakKeyDictionary()


def async_app_of(app: Any) -> AsyncQueueTasks:
    """The async app behind ``app`` (the sync app keeps it as ``app.aio``)."""
    from qtasks.asyncio import QueueTasks as AsyncQueueTasks  # noqa: PLC0415 - cheap, lazy

    inner = getattr(app, "aio", app)
    if not isinstance(inner, AsyncQueueTasks):
        raise TypeError(f"expected a QueueTasks app, got {type(app).__name__}")
    return inner


def attach(app: AsyncQueueTasks, timer: AsyncTimer) -> None:
    """Record ``timer`` as one of ``app``'s timers (names must be unique per app)."""
    from qtasks.exceptions import ConfigurationError  # noqa: PLC0415

    timers = _TIMERS.setdefault(app, [])
    if any(t.name == timer.name for t in timers):
        raise ConfigurationError(
            f"app '{app.name}' already has a timer named '{timer.name}'; give the second one "
            "another name (AsyncTimer(app, name=...)) or add its schedules to the first"
        )
    timers.append(timer)


def attached(app: Any) -> list[AsyncTimer]:
    """The timers made for ``app`` (async or sync app), in the order they were made."""
    return list(_TIMERS.get(async_app_of(app), ()))
