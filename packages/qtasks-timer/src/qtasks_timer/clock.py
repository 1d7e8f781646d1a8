"""Where a timer gets the time from: the system clock, or a clock a test moves by hand.

Only tick arithmetic goes through the clock. Leases keep real time, because their expiry is
measured by the global config (Redis, for example), which knows nothing of a test's clock.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["Clock", "ManualClock", "SystemClock"]

#: The longest single sleep of the system clock: waking now and then notices a wall clock that
#: was stepped (NTP, a suspended laptop) instead of sleeping past a tick.
_MAX_NAP = 30.0


@runtime_checkable
class Clock(Protocol):
    """Wall-clock time in epoch seconds, and a way to wait for a moment of it."""

    def now(self) -> float:
        """The current time, in seconds since the epoch."""
        ...

    async def sleep_until(self, when: float) -> None:
        """Return once ``now() >= when``."""
        ...


class SystemClock:
    """``time.time()``; sleeps in bounded naps so a stepped wall clock is noticed."""

    def now(self) -> float:
        """The system's wall-clock time."""
        return time.time()

    async def sleep_until(self, when: float) -> None:
        """Sleep until the wall clock reaches ``when``."""
        while True:
            remaining = when - time.time()
            if remaining <= 0:
                return
            await anyio.sleep(min(remaining, _MAX_NAP))


class ManualClock:
    """A clock that moves only when told to: ``advance`` and ``set`` wake whoever waits.

    Made for tests: a schedule that fires every day at 09:00 can be driven through a week
    in microseconds, and nothing depends on how fast the machine is.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._moved: anyio.Event | None = None

    def now(self) -> float:
        """The time this clock was last set or advanced to."""
        return self._now

    def set(self, when: float) -> None:
        """Jump to ``when`` (backwards too, to imitate a stepped wall clock)."""
        self._now = float(when)
        moved, self._moved = self._moved, None
        if moved is not None:
            moved.set()

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds``."""
        if seconds < 0:
            raise ValueError(f"advance() takes seconds >= 0, got {seconds!r}; use set()")
        self.set(self._now + seconds)

    async def sleep_until(self, when: float) -> None:
        """Wait until the clock has been moved to ``when`` or later."""
        while self._now < when:
            if self._moved is None:
                self._moved = anyio.Event()
            await self._moved.wait()
