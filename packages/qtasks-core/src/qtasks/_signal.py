"""A re-armable wake-up signal for coroutines of one event loop."""

from __future__ import annotations

import anyio

__all__ = ["Signal"]


class Signal:
    """Wakes every coroutine waiting at the time of ``fire``; later waiters wait afresh.

    The underlying event is made on first use inside a running loop, and ``reset`` forgets it,
    so a component can move to a new event loop between runs (``anyio.run`` twice).
    """

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: anyio.Event | None = None

    def fire(self) -> None:
        """Wake all current waiters."""
        event = self._event
        if event is not None:
            self._event = None
            event.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for the next ``fire``; ``False`` if ``timeout`` passed first."""
        if self._event is None:
            self._event = anyio.Event()
        event = self._event
        if timeout is None:
            await event.wait()
            return True
        with anyio.move_on_after(timeout):
            await event.wait()
            return True
        return False

    def reset(self) -> None:
        """Drop the current event (waking nobody); used when a component restarts."""
        self._event = None
