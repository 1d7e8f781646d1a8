"""The Broker interface: moving task messages from producers to workers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qtasks.interfaces.component import Component

if TYPE_CHECKING:
    from qtasks.interfaces.global_config import GlobalConfig
    from qtasks.interfaces.storage import Storage
    from qtasks.task import Task

__all__ = ["Broker", "DeadLetter", "Delivery", "OutgoingMessage", "QueueStats"]


@dataclass(slots=True, frozen=True)
class OutgoingMessage:
    """A message to enqueue. ``eta`` (epoch seconds) makes it due later; ``None`` is now.

    ``priority``: lower numbers are delivered first; FIFO among equal priorities.
    """

    uuid: str
    queue: str
    priority: int
    body: bytes
    eta: float | None = None


@dataclass(slots=True)
class Delivery:
    """A message handed to a worker; it stays the worker's until acked or nacked.

    ``receipt`` is the broker's own handle. ``delivery_count`` is 1 on the first delivery and
    grows with every redelivery (after a crash, a hand-back or an expired visibility deadline).
    ``uuid`` is filled in when the broker knows it without decoding the body; ``priority`` is
    the priority it was queued with, so a dead letter can be requeued at its old place.
    """

    body: bytes
    queue: str
    receipt: Any
    delivery_count: int = 1
    uuid: str | None = None
    priority: int = 0


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """A message set aside for a person to look at, with the reason it could not run."""

    body: bytes
    queue: str
    reason: str
    uuid: str | None
    dead_at: float
    priority: int = 0


@dataclass(slots=True, frozen=True)
class QueueStats:
    """How much is in one queue, for ``qtasks queues`` and monitoring.

    ``ready`` maps a priority to the number of messages due now at that priority; ``None`` in
    a count means the broker cannot tell cheaply (Kafka has no per-message view of a topic).
    """

    queue: str
    ready: dict[int, int]
    delayed: int | None
    in_flight: int | None
    dead: int

    @property
    def total_ready(self) -> int:
        """Messages due now, over every priority."""
        return sum(self.ready.values())


class Broker(Component, ABC):
    """Queues of task messages with at-least-once delivery.

    The abstract surface is what differs between backends: send, receive, ack, nack and the
    dead-letter place. ``publish`` and ``settle`` combine a storage write with a broker call;
    a backend that shares a connection with its storage overrides them to save round trips.
    """

    @abstractmethod
    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Enqueue ``messages``; return only once the broker holds them."""

    @abstractmethod
    async def receive(
        self, queues: Sequence[str], max_messages: int, timeout: float
    ) -> list[Delivery]:
        """Wait up to ``timeout`` seconds for due messages and return at most ``max_messages``.

        Across ``queues`` the lowest priority number comes first, FIFO within a priority.
        An empty list means nothing arrived in time. Cancelling the call must not lose a
        message: anything taken from a queue and not returned has to become deliverable again.
        """

    @abstractmethod
    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Forget ``deliveries`` for good: their tasks are finished and their results stored."""

    @abstractmethod
    async def nack(
        self, deliveries: Sequence[Delivery], *, delay: float = 0.0, counted: bool = True
    ) -> None:
        """Hand ``deliveries`` back so any worker can take them again after ``delay`` s.

        ``counted=False``: the worker never started these (it only prefetched them), so the
        next delivery keeps the same ``delivery_count``; restarts of workers must not push a
        task towards the dead-letter place.
        """

    @abstractmethod
    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move ``delivery`` out of its queue into the dead-letter place, keeping ``reason``."""

    @abstractmethod
    async def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Return dead-lettered messages, oldest first, optionally for one queue."""

    #: Seconds a delivered message stays with its consumer without a ``heartbeat`` before the
    #: broker hands it to another; ``None`` where the broker notices a dead consumer some
    #: other way (a closed connection, a consumer-group rebalance). Workers heartbeat well
    #: within it.
    visibility_timeout: float | None = None

    def default_storage(self) -> Storage | None:
        """The storage to use when the app is given this broker and no storage.

        A backend that also provides a storage returns one sharing its connection; ``None``
        means the in-memory storage, which only this process can read.
        """
        return None

    def default_global_config(self) -> GlobalConfig | None:
        """The global config to use when none is given; ``None`` means in-memory."""
        return None

    async def cancel(self, uuid: str, queue: str) -> bool:
        """Remove a message that no worker has taken yet; ``True`` if it was removed.

        Brokers that cannot remove a queued message keep this default; the app then relies
        on the storage record (a cancelled task is skipped when it is delivered).
        """
        return False

    async def stats(self, queues: Sequence[str]) -> list[QueueStats]:
        """Depth of each of ``queues``: ready per priority, delayed, in flight, dead-lettered."""
        raise NotImplementedError(f"{type(self).__name__} cannot report queue depths")

    async def purge(self, queues: Sequence[str]) -> int:
        """Drop every ready and delayed message of ``queues``; return how many were dropped.

        Messages in flight are left to their workers; dead letters stay (``requeue_dead`` or
        ``purge_dead`` deal with those).
        """
        raise NotImplementedError(f"{type(self).__name__} cannot purge queues")

    async def requeue_dead(self, queue: str | None = None, limit: int | None = None) -> int:
        """Send dead letters (oldest first) back to their queues; return how many moved.

        A requeued message starts with a fresh delivery count. Messages that could not be
        decoded will most likely be dead-lettered again; they are requeued all the same, since
        a newer worker may read them.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot requeue dead letters")

    async def heartbeat(self, deliveries: Sequence[Delivery]) -> None:
        """Tell the broker that ``deliveries`` are still being worked on.

        The worker calls this periodically while tasks run; brokers with a visibility
        deadline extend it here. The default has no deadline to extend.
        """

    async def publish(
        self, storage: Storage, records: Sequence[Task], messages: Sequence[OutgoingMessage]
    ) -> None:
        """Store ``records`` (status new), then enqueue ``messages``.

        Storing first means a worker can never finish a task whose record is still missing.
        """
        await storage.save(records)
        await self.send(messages)

    async def settle(
        self,
        storage: Storage,
        records: Sequence[Task],
        acks: Sequence[Delivery],
        sends: Sequence[OutgoingMessage] = (),
    ) -> None:
        """Store finished ``records``, enqueue ``sends`` (retries), then ack ``acks``.

        The order is what makes delivery at-least-once: a crash before the ack means the task
        is delivered again, never that its result or its retry is lost.
        """
        if records:
            await storage.save(records)
        if sends:
            await self.send(sends)
        if acks:
            await self.ack(acks)
