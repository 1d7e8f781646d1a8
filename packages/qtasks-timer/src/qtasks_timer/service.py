"""Running an app's timers inside its worker process: no separate beat service.

``run_timers`` is a starter service (see ``qtasks.starters.DefaultStarter``): it runs every
timer made for the app until the worker stops. ``qtasks -A module:app run --timer`` adds it
for you; in code::

    app.starter.add_service(run_timers)  # then app.run_forever() runs worker and timers

Several worker processes may all run it: the timers' lease makes sure each tick fires once.
"""

from __future__ import annotations

from typing import Any

import anyio

from qtasks.exceptions import ConfigurationError
from qtasks_timer._registry import async_app_of, attached
from qtasks_timer.timer import AsyncTimer

__all__ = ["run_timers", "timers_of"]


def timers_of(app: Any) -> list[AsyncTimer]:
    """The timers made for ``app`` (sync or async app); a ``SyncTimer`` shows as its ``aio``."""
    return attached(app)


class _TimerService:
    """``await run_timers(app)`` runs the timers; ``run_timers.check(app)`` vets the app first.

    The CLI calls ``check`` before it starts the worker, so ``run --timer`` on an app without
    timers is a one-line error rather than a worker that starts and stops again.
    """

    def check(self, app: Any) -> list[AsyncTimer]:
        """Return the app's timers; an app without any is a configuration error."""
        timers = attached(app)
        if not timers:
            raise ConfigurationError(
                f"app '{async_app_of(app).name}' has no timers; create one with "
                "AsyncTimer(app) or SyncTimer(app) in the module that defines the app"
            )
        return timers

    async def __call__(self, app: Any) -> None:
        """Run all of ``app``'s timers until cancelled."""
        timers = self.check(app)
        async with anyio.create_task_group() as group:
            for timer in timers:
                group.start_soon(timer.run_forever)

    def __repr__(self) -> str:
        return "qtasks_timer.run_timers"


#: The starter service running an app's timers (``app.starter.add_service(run_timers)``).
run_timers = _TimerService()
