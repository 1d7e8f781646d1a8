"""MemoryStorage: task records in a dict, serialized like a real backend would store them."""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Collection, Sequence
from typing import Any

import anyio
from typing_extensions import Self

from qtasks.interfaces.storage import DEFAULT_RESULT_TTL, Storage
from qtasks.task import FINAL_STATUSES, Task, TaskStatus

__all__ = ["MemoryStorage"]


class MemoryStorage(Storage):
    """Records live in this process, encoded with the app's serializer.

    Encoding on every write is deliberate: a result that would fail on Redis fails here too,
    and callers can never mutate a stored record through a reference they kept. Finished
    records expire after ``result_ttl``; waiters are woken by the write that finishes a task.
    """

    def __init__(self, *, result_ttl: float | None = DEFAULT_RESULT_TTL) -> None:
        super().__init__(result_ttl=result_ttl)
        self._data: dict[str, bytes] = {}
        self._status: dict[str, TaskStatus] = {}
        self._expiry: list[tuple[float, str]] = []
        # uuid -> (event, number of coroutines waiting on it), so timeouts leave nothing behind
        self._waiters: dict[str, tuple[anyio.Event, int]] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``memory://`` takes no settings beyond keyword options."""
        return cls(**options)

    async def start(self) -> None:
        """Forget waiters of a previous event loop (they cannot be woken from this one)."""
        self._waiters.clear()

    async def save(
        self, tasks: Sequence[Task], *, only_if: Collection[TaskStatus] | None = None
    ) -> list[bool]:
        """Write records; with ``only_if``, skip those whose stored status is not listed."""
        written: list[bool] = []
        now = time.time()
        self._expire(now)
        for task in tasks:
            current = self._status.get(task.uuid)
            if only_if is not None and current is not None and current not in only_if:
                written.append(False)
                continue
            self._data[task.uuid] = self.encode_task(task)
            self._status[task.uuid] = task.status
            if task.status in FINAL_STATUSES:
                if self.result_ttl is not None:
                    heapq.heappush(self._expiry, (now + self.result_ttl, task.uuid))
                waiter = self._waiters.pop(task.uuid, None)
                if waiter is not None:
                    waiter[0].set()
            written.append(True)
        return written

    def _expire(self, now: float) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, uuid = heapq.heappop(expiry)
            if self._status.get(uuid) in FINAL_STATUSES:
                self._data.pop(uuid, None)
                self._status.pop(uuid, None)

    async def get_many(self, uuids: Sequence[str]) -> list[Task | None]:
        """Decode the stored records."""
        self._expire(time.time())
        out: list[Task | None] = []
        for uuid in uuids:
            data = self._data.get(uuid)
            out.append(None if data is None else self.decode_task(data))
        return out

    async def wait(self, uuid: str, timeout: float | None) -> Task | None:
        """Return the final record, woken by the write that finishes it."""
        if self._status.get(uuid) not in FINAL_STATUSES:
            event, count = self._waiters.get(uuid) or (anyio.Event(), 0)
            self._waiters[uuid] = (event, count + 1)
            try:
                with anyio.move_on_after(math.inf if timeout is None else timeout):
                    await event.wait()
            finally:
                current = self._waiters.get(uuid)
                if current is not None and current[0] is event:
                    if current[1] <= 1:
                        del self._waiters[uuid]
                    else:
                        self._waiters[uuid] = (event, current[1] - 1)
            if self._status.get(uuid) not in FINAL_STATUSES:
                return None
        return await self.get(uuid)

    async def delete(self, uuids: Sequence[str]) -> int:
        """Remove records."""
        removed = 0
        for uuid in uuids:
            if self._data.pop(uuid, None) is not None:
                removed += 1
            self._status.pop(uuid, None)
        return removed

    def __len__(self) -> int:
        return len(self._data)
