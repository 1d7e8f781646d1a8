"""One process's hold on a named lease in the app's global config.

The global config measures the TTL; this side only remembers until when its last successful
renewal is good for (by the local monotonic clock, measured from *before* the call, so a slow
round trip makes the estimate shorter, never longer), minus a margin for clock rate drift.
"""

from __future__ import annotations

import time

from qtasks.interfaces.global_config import GlobalConfig

__all__ = ["Lease"]


class Lease:
    """``renew()`` takes or extends the lease; ``valid`` says whether it is surely still ours."""

    def __init__(self, config: GlobalConfig, name: str, owner: str, ttl: float) -> None:
        self.config = config
        self.name = name
        self.owner = owner
        self.ttl = ttl
        self.held = False
        self.until = 0.0

    @property
    def valid(self) -> bool:
        """Held, and not within the safety margin of its expiry."""
        return self.held and time.monotonic() < self.until - min(1.0, self.ttl / 10)

    async def renew(self) -> None:
        """Take or extend the lease; on an error it counts as lost and the error propagates."""
        started = time.monotonic()
        try:
            self.held = await self.config.acquire_lease(self.name, self.owner, self.ttl)
        except BaseException:
            self.held = False
            raise
        if self.held:
            self.until = started + self.ttl

    async def release(self) -> None:
        """Give the lease up so another process can take it at once."""
        self.held = False
        await self.config.release_lease(self.name, self.owner)

    async def holder(self) -> str | None:
        """Who holds it now, as the global config's lease key records it."""
        value = await self.config.get(f"lease:{self.name}")
        return value if isinstance(value, str) else None
