"""The in-memory broker a test case swaps in: a MemoryBroker that says when anything moves."""

from __future__ import annotations

from collections.abc import Sequence

from qtasks._signal import Signal
from qtasks.interfaces.broker import Delivery, OutgoingMessage
from qtasks.memory import MemoryBroker

__all__ = ["CaseBroker"]


class CaseBroker(MemoryBroker):
    """A MemoryBroker that fires ``moved`` whenever a message moves.

    A test can then wait for idleness without polling; eager mode takes queued messages out
    by uuid.
    """

    def __init__(self) -> None:
        super().__init__()
        self.moved = Signal()

    async def start(self) -> None:
        """Forget wake-ups of an earlier event loop."""
        await super().start()
        self.moved.reset()

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Queue, then wake waiters."""
        await super().send(messages)
        self.moved.fire()

    async def receive(
        self, queues: Sequence[str], max_messages: int, timeout: float
    ) -> list[Delivery]:
        """Deliver, then wake waiters (a delayed message falling due changes nothing else)."""
        taken = await super().receive(queues, max_messages, timeout)
        if taken:
            self.moved.fire()
        return taken

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Forget, then wake waiters."""
        await super().ack(deliveries)
        self.moved.fire()

    async def nack(
        self, deliveries: Sequence[Delivery], *, delay: float = 0.0, counted: bool = True
    ) -> None:
        """Requeue, then wake waiters."""
        await super().nack(deliveries, delay=delay, counted=counted)
        self.moved.fire()

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Set aside, then wake waiters."""
        await super().dead_letter(delivery, reason)
        self.moved.fire()

    def pending(self) -> list[OutgoingMessage]:
        """Messages waiting in any queue (due or delayed), by priority then arrival."""
        entries = [e for e in self._queued.values() if not e.removed]
        entries.sort(key=lambda e: (e.message.priority, e.seq))
        return [e.message for e in entries]

    def take(self, uuid: str) -> OutgoingMessage | None:
        """Remove a waiting message so it runs here and never reaches a worker."""
        entry = self._queued.pop(uuid, None)
        if entry is None or entry.removed:
            return None
        entry.removed = True
        self.moved.fire()
        return entry.message

    @property
    def idle(self) -> bool:
        """Nothing waiting (due or delayed) and nothing delivered but unsettled."""
        if self.in_flight:
            return False
        waiting = (e for heap in self._ready.values() for _, _, e in heap)
        delayed = (item[3] for item in self._delayed)
        return all(e.removed for e in (*waiting, *delayed))
