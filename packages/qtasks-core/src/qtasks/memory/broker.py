"""MemoryBroker: priority queues, delays and dead letters inside one event loop."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Sequence
from typing import Any

import anyio
from typing_extensions import Self

from qtasks._signal import Signal
from qtasks.interfaces.broker import Broker, DeadLetter, Delivery, OutgoingMessage, QueueStats

__all__ = ["MemoryBroker"]


class _Entry:
    """One message in the broker, wherever it currently is (ready, delayed or in flight)."""

    __slots__ = ("deliveries", "message", "removed", "seq")

    def __init__(self, message: OutgoingMessage, seq: int) -> None:
        self.message = message
        self.seq = seq
        self.deliveries = 0
        self.removed = False


class MemoryBroker(Broker):
    """Queues in this process. Fast, and honest about the broker contract.

    Priorities are honoured across everything queued (lower number first, FIFO inside a
    priority), delayed messages become due by timer rather than by polling, unacked messages
    return to their place when nacked, and dead letters are kept with their reason. It is
    bound to the event loop that uses it; the sync app keeps it on its own loop thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seq = itertools.count()
        self._ready: dict[str, list[tuple[int, int, _Entry]]] = {}
        self._delayed: list[tuple[float, int, str, _Entry]] = []
        self._queued: dict[str, _Entry] = {}
        self._inflight: dict[int, _Entry] = {}
        self._receipts = itertools.count(1)
        self._dead: list[DeadLetter] = []
        self._changed = Signal()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``memory://`` takes no settings."""
        return cls()

    async def start(self) -> None:
        """Forget the wake-up event of a previous event loop."""
        self._changed.reset()

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Queue ``messages``; delayed ones wait in a timer heap."""
        now = time.time()
        for message in messages:
            entry = _Entry(message, next(self._seq))
            self._enqueue(entry, message.eta, now)
        self._changed.fire()

    def _enqueue(self, entry: _Entry, eta: float | None, now: float) -> None:
        message = entry.message
        if message.uuid:  # raw bytes without a uuid cannot be cancelled or replaced
            previous = self._queued.get(message.uuid)
            if previous is not None and previous is not entry:
                previous.removed = True  # a newer copy of the task replaces a queued one
            self._queued[message.uuid] = entry
        if eta is not None and eta > now:
            heapq.heappush(self._delayed, (eta, entry.seq, message.queue, entry))
        else:
            heap = self._ready.setdefault(message.queue, [])
            heapq.heappush(heap, (message.priority, entry.seq, entry))

    def _promote_due(self, now: float) -> None:
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            _, seq, queue, entry = heapq.heappop(delayed)
            if not entry.removed:
                heap = self._ready.setdefault(queue, [])
                heapq.heappush(heap, (entry.message.priority, seq, entry))

    def _take(self, queues: Sequence[str], limit: int) -> list[Delivery]:
        out: list[Delivery] = []
        heaps = [h for q in queues if (h := self._ready.get(q))]
        while heaps and len(out) < limit:
            heap = heaps[0] if len(heaps) == 1 else min(heaps, key=lambda h: h[0][:2])
            _, _, entry = heapq.heappop(heap)
            if not heap:
                heaps.remove(heap)
            if entry.removed:
                continue
            message = entry.message
            if self._queued.get(message.uuid) is entry:
                del self._queued[message.uuid]
            entry.deliveries += 1
            receipt = next(self._receipts)
            self._inflight[receipt] = entry
            out.append(
                Delivery(
                    body=message.body,
                    queue=message.queue,
                    receipt=receipt,
                    delivery_count=entry.deliveries,
                    uuid=message.uuid or None,
                    priority=message.priority,
                )
            )
        return out

    async def receive(
        self, queues: Sequence[str], max_messages: int, timeout: float
    ) -> list[Delivery]:
        """Return due messages, waiting for a send or the next delayed one to come due."""
        deadline = anyio.current_time() + timeout
        while True:
            self._promote_due(time.time())
            taken = self._take(queues, max_messages)
            if taken:
                return taken
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                return []
            if self._delayed:
                remaining = min(remaining, max(0.0, self._delayed[0][0] - time.time()))
            await self._changed.wait(remaining)

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Drop acknowledged messages."""
        for delivery in deliveries:
            self._inflight.pop(delivery.receipt, None)

    async def nack(
        self, deliveries: Sequence[Delivery], *, delay: float = 0.0, counted: bool = True
    ) -> None:
        """Put messages back at their original place in the queue (after ``delay``)."""
        now = time.time()
        for delivery in deliveries:
            entry = self._inflight.pop(delivery.receipt, None)
            if entry is not None and not entry.removed:
                if not counted:
                    entry.deliveries -= 1
                self._enqueue(entry, now + delay if delay > 0 else None, now)
        self._changed.fire()

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Keep the bytes and the reason; the message leaves its queue."""
        self._inflight.pop(delivery.receipt, None)
        self._dead.append(
            DeadLetter(
                body=delivery.body,
                queue=delivery.queue,
                reason=reason,
                uuid=delivery.uuid,
                dead_at=time.time(),
                priority=delivery.priority,
            )
        )

    async def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Dead letters, oldest first."""
        found = [d for d in self._dead if queue is None or d.queue == queue]
        return found[:limit]

    async def cancel(self, uuid: str, queue: str) -> bool:
        """Remove a message still waiting in a queue (ready or delayed)."""
        entry = self._queued.pop(uuid, None)
        if entry is None or entry.removed:
            return False
        entry.removed = True
        return True

    async def stats(self, queues: Sequence[str]) -> list[QueueStats]:
        """Ready messages per priority, delayed, in flight and dead, per queue."""
        self._promote_due(time.time())
        out = []
        for queue in queues:
            ready: dict[int, int] = {}
            for priority, _, entry in self._ready.get(queue, ()):
                if not entry.removed:
                    ready[priority] = ready.get(priority, 0) + 1
            delayed = sum(1 for _, _, q, e in self._delayed if q == queue and not e.removed)
            in_flight = sum(1 for e in self._inflight.values() if e.message.queue == queue)
            dead = sum(1 for d in self._dead if d.queue == queue)
            out.append(QueueStats(queue, dict(sorted(ready.items())), delayed, in_flight, dead))
        return out

    async def purge(self, queues: Sequence[str]) -> int:
        """Drop ready and delayed messages of ``queues``."""
        wanted = set(queues)
        dropped = 0
        for queue in wanted:
            for _, _, entry in self._ready.pop(queue, []):
                dropped += self._drop(entry)
        keep = []
        for item in self._delayed:
            if item[2] in wanted:
                dropped += self._drop(item[3])
            else:
                keep.append(item)
        heapq.heapify(keep)
        self._delayed = keep
        return dropped

    def _drop(self, entry: _Entry) -> int:
        if entry.removed:
            return 0
        entry.removed = True
        if self._queued.get(entry.message.uuid) is entry:
            del self._queued[entry.message.uuid]
        return 1

    async def requeue_dead(self, queue: str | None = None, limit: int | None = None) -> int:
        """Queue dead letters again, oldest first, with a fresh delivery count."""
        chosen = [d for d in self._dead if queue is None or d.queue == queue]
        if limit is not None:
            chosen = chosen[:limit]
        if not chosen:
            return 0
        ids = {id(d) for d in chosen}
        self._dead = [d for d in self._dead if id(d) not in ids]
        await self.send(
            [OutgoingMessage(d.uuid or "", d.queue, d.priority, d.body) for d in chosen]
        )
        return len(chosen)

    def push_raw(self, queue: str, body: bytes, *, priority: int = 0, uuid: str = "") -> None:
        """Queue raw bytes as if another program had written them (for tests and tools)."""
        entry = _Entry(OutgoingMessage(uuid, queue, priority, body), next(self._seq))
        heapq.heappush(self._ready.setdefault(queue, []), (priority, entry.seq, entry))
        self._changed.fire()

    def depth(self, queue: str) -> int:
        """Messages waiting in ``queue`` (ready and delayed), not counting in-flight ones."""
        ready = sum(1 for _, _, e in self._ready.get(queue, ()) if not e.removed)
        delayed = sum(1 for _, _, q, e in self._delayed if q == queue and not e.removed)
        return ready + delayed

    @property
    def in_flight(self) -> int:
        """Messages delivered and not yet acked or nacked."""
        return len(self._inflight)
