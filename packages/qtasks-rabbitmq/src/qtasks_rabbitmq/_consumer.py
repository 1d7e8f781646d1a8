"""The consuming side: one AMQP channel, a consumer per queue, and a local priority buffer.

``receive`` asks for at most the worker's free slots. The channel's prefetch limit (a
channel-wide ``basic.qos``) is kept at "deliveries the worker holds + what it asks for", so
RabbitMQ never pushes more than the worker has room for: nothing is hoarded that another
worker could be running. Deliveries wait in a heap ordered by QTasks priority, then arrival,
which also orders messages of several queues among each other.

Everything here belongs to one channel. When RabbitMQ or the network closes it, buffered
deliveries are dropped (RabbitMQ requeues them) and the next ``ensure`` starts afresh on the
reopened channel.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import uuid as uuid_module
from collections.abc import Awaitable, Callable, Sequence

from aiormq.abc import AbstractChannel, DeliveredMessage

from qtasks_rabbitmq._wire import Receipt, receipt_of
from qtasks_rabbitmq.names import Names

__all__ = ["Prefetcher"]

#: basic.qos counts in an unsigned short.
MAX_PREFETCH = 65535


class Prefetcher:
    """Consumers and the buffer of one consuming channel."""

    def __init__(
        self, names: Names, max_priority: int, declare: Callable[[str], Awaitable[None]]
    ) -> None:
        self._names = names
        self._prefix = names.queue("")
        self._max_priority = max_priority
        self._declare = declare
        self._channel: AbstractChannel | None = None
        self._tags: dict[str, str] = {}
        self._prefetch = 0
        self._heap: list[tuple[int, int, Receipt, bytes]] = []
        self._seq = itertools.count()
        self._waiter: asyncio.Event | None = None
        self.outstanding: set[int] = set()
        self._lock = asyncio.Lock()

    # -- channel and consumers -----------------------------------------------------------------

    def new_loop(self) -> None:
        """Use a fresh lock: the old one may belong to an event loop that has ended."""
        self._lock = asyncio.Lock()

    def reset(self) -> None:
        """Forget the channel: its consumers and unacked deliveries are gone with it."""
        self._channel = None
        self._tags.clear()
        self._prefetch = 0
        self._heap.clear()
        self.outstanding.clear()
        self.wake()

    async def ensure(self, channel: AbstractChannel, queues: Sequence[str], wanted: int) -> bool:
        """Consume exactly ``queues`` on ``channel`` with room for ``wanted`` more deliveries.

        Returns whether a consumer was started, so the caller can let the first burst land
        before ordering it.
        """
        if (
            channel is self._channel
            and len(queues) == len(self._tags)
            and all(q in self._tags for q in queues)
            and len(self.outstanding) + wanted <= self._prefetch
        ):
            return False
        async with self._lock:
            if channel is not self._channel:
                self.reset()
                self._channel = channel
            limit = min(MAX_PREFETCH, len(self.outstanding) + max(1, wanted))
            if limit > self._prefetch:
                await channel.basic_qos(prefetch_count=limit, global_=True)
                self._prefetch = limit
            started = False
            for queue in queues:
                if queue in self._tags:
                    continue
                await self._declare(queue)
                tag = f"qtasks-{uuid_module.uuid4().hex}"
                self._tags[queue] = tag
                await channel.basic_consume(
                    self._names.queue(queue), self._on_message, consumer_tag=tag
                )
                started = True
            for queue in [q for q in self._tags if q not in queues]:
                await self._stop_consuming(channel, queue)
            return started

    async def _stop_consuming(self, channel: AbstractChannel, queue: str) -> None:
        tag = self._tags.pop(queue)
        await channel.basic_cancel(tag)
        keep = []
        for entry in self._heap:
            if entry[2].queue == queue:
                await channel.basic_nack(entry[2].tag, requeue=True)
            else:
                keep.append(entry)
        heapq.heapify(keep)
        self._heap = keep

    async def _on_message(self, message: DeliveredMessage) -> None:
        if message.channel is not self._channel:
            return  # a late delivery of a channel we already left; RabbitMQ requeues it
        routing_key = message.routing_key or ""
        if routing_key.startswith(self._prefix):
            queue = routing_key[len(self._prefix) :]
        else:  # published by another program through some other route: ask the consumer
            tag = message.consumer_tag
            queue = next((q for q, t in self._tags.items() if t == tag), "")
        receipt = receipt_of(message, queue, self._max_priority)
        heapq.heappush(self._heap, (receipt.priority, next(self._seq), receipt, message.body))
        self.wake()

    # -- taking --------------------------------------------------------------------------------

    def take(self, limit: int) -> list[tuple[Receipt, bytes]]:
        """Pop up to ``limit`` buffered deliveries, best first; never awaits.

        Entries of a closed channel are dropped.
        """
        out: list[tuple[Receipt, bytes]] = []
        heap = self._heap
        while heap and len(out) < limit:
            _, _, receipt, body = heapq.heappop(heap)
            if receipt.channel is not self._channel or receipt.stale:
                continue
            self.outstanding.add(receipt.tag)
            out.append((receipt, body))
        return out

    def buffered(self, queue: str) -> int:
        """Deliveries of ``queue`` prefetched here and not yet taken by a ``receive``."""
        return sum(1 for entry in self._heap if entry[2].queue == queue and not entry[2].stale)

    def settled(self, receipt: Receipt) -> bool:
        """Forget an outstanding delivery; ``False`` if it belongs to a closed channel."""
        self.outstanding.discard(receipt.tag)
        return receipt.channel is self._channel and not receipt.stale

    async def cancel(self) -> list[tuple[Receipt, bytes]]:
        """Stop every consumer; return the deliveries still buffered (not yet taken)."""
        channel = self._channel
        if channel is None or channel.is_closed:
            return []
        for tag in list(self._tags.values()):
            await channel.basic_cancel(tag)
        self._tags.clear()
        left = [(entry[2], entry[3]) for entry in sorted(self._heap) if not entry[2].stale]
        self._heap.clear()
        for receipt, _ in left:
            self.outstanding.add(receipt.tag)
        return left

    # -- waiting -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Wake a waiting ``receive`` (a delivery arrived, or the channel changed)."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()

    async def wait(self, timeout: float) -> None:
        """Wait until ``wake`` or ``timeout``."""
        if self._heap:
            return
        if self._waiter is None:
            self._waiter = asyncio.Event()
        waiter = self._waiter
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
        except asyncio.TimeoutError:
            return
