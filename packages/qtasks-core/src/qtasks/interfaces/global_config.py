"""The GlobalConfig interface: small shared state and a control channel for every process."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

from qtasks.interfaces.component import Component

__all__ = ["GlobalConfig"]


class GlobalConfig(Component, ABC):
    """Key-value settings with TTLs, compare-and-set, and publish/subscribe.

    Worker heartbeats, timer leases and cancel requests live here, so that every process of
    one app (same namespace) sees the same values. Values are plain data.
    """

    @abstractmethod
    async def get(self, key: str) -> Any | None:
        """Return the value of ``key``, or ``None`` if it is missing or expired."""

    @abstractmethod
    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        """Set ``key``; with ``ttl`` it expires after that many seconds."""

    @abstractmethod
    async def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it existed."""

    @abstractmethod
    async def items(self, prefix: str = "") -> dict[str, Any]:
        """Return every live key starting with ``prefix`` with its value."""

    @abstractmethod
    async def compare_and_set(
        self, key: str, expected: Any | None, value: Any, *, ttl: float | None = None
    ) -> bool:
        """Set ``key`` to ``value`` only if it currently holds ``expected`` (``None``: missing).

        A ``value`` of ``None`` deletes the key. Atomic across processes; the building block
        of leases.
        """

    @abstractmethod
    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Send ``message`` to every current subscriber of ``channel`` (fire and forget)."""

    @abstractmethod
    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """Listen on ``channel``: ``async with gc.subscribe(ch) as messages: async for m in ...``.

        Messages published before the context is entered are not seen.
        """

    async def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        """Take or renew the lease ``name`` for ``owner``; ``True`` while ``owner`` holds it."""
        key = f"lease:{name}"
        if await self.compare_and_set(key, owner, owner, ttl=ttl):
            return True
        return await self.compare_and_set(key, None, owner, ttl=ttl)

    async def release_lease(self, name: str, owner: str) -> bool:
        """Give up the lease if ``owner`` holds it, so another process can take it at once."""
        return await self.compare_and_set(f"lease:{name}", owner, None)
