"""MemoryGlobalConfig: settings, leases and a control channel within one process."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream
from typing_extensions import Self

from qtasks.interfaces.global_config import GlobalConfig

__all__ = ["MemoryGlobalConfig"]


class MemoryGlobalConfig(GlobalConfig):
    """Values copied through the serializer (so nothing is shared by reference) with TTLs."""

    def __init__(self) -> None:
        super().__init__()
        self._values: dict[str, tuple[bytes, float | None]] = {}
        self._subscribers: dict[str, set[MemoryObjectSendStream[dict[str, Any]]]] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``memory://`` takes no settings."""
        return cls()

    def _live(self, key: str) -> bytes | None:
        item = self._values.get(key)
        if item is None:
            return None
        data, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._values[key]
            return None
        return data

    async def get(self, key: str) -> Any | None:
        """Return the value or ``None``."""
        data = self._live(key)
        return None if data is None else self.serializer.loads(data)

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        """Store a copy of ``value``."""
        expires = None if ttl is None else time.monotonic() + ttl
        self._values[key] = (self.serializer.dumps(value), expires)

    async def delete(self, key: str) -> bool:
        """Remove ``key``."""
        existed = self._live(key) is not None
        self._values.pop(key, None)
        return existed

    async def items(self, prefix: str = "") -> dict[str, Any]:
        """Live keys under ``prefix``."""
        out: dict[str, Any] = {}
        for key in list(self._values):
            if key.startswith(prefix):
                data = self._live(key)
                if data is not None:
                    out[key] = self.serializer.loads(data)
        return out

    async def compare_and_set(
        self, key: str, expected: Any | None, value: Any, *, ttl: float | None = None
    ) -> bool:
        """Atomic here because nothing awaits between the check and the write."""
        data = self._live(key)
        current = None if data is None else self.serializer.loads(data)
        if current != expected:
            return False
        if value is None:
            self._values.pop(key, None)
        else:
            await self.set(key, value, ttl=ttl)
        return True

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Deliver a copy to each subscriber."""
        data = self.serializer.dumps(message)
        for stream in list(self._subscribers.get(channel, ())):
            try:
                stream.send_nowait(self.serializer.loads(data))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.get(channel, set()).discard(stream)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Receive messages published on ``channel`` while the context is open."""
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
        subscribers = self._subscribers.setdefault(channel, set())
        subscribers.add(send)
        try:
            async with receive:
                yield receive
        finally:
            subscribers.discard(send)
            send.close()
