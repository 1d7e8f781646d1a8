"""DirectReplyStorage: results for a RabbitMQ-only app, carried back by direct reply-to.

An app given a RabbitMQ broker and no storage gets this one. The producer keeps the records
of the tasks it queued, in memory; each task message asks for a reply on RabbitMQ's
``amq.rabbitmq.reply-to`` pseudo-queue; the worker that finishes the task publishes the final
record there, and the producer stores it and wakes whoever waits. So
``add_task(..., timeout=5)`` and ``task.wait_result()`` work with no database at all.

What it cannot do: a process that did not queue a task has no record of it, so ``app.get``,
``wait_result`` or ``cancel`` for such a uuid raise ``SharedStorageRequiredError`` naming the
fix (a storage every process reaches, such as Redis). A reply in flight while the producer
reconnects is lost (its reply address belonged to the old channel); the waiter then times
out. Workers keep no records, only a short memory of finished uuids, so a redelivered copy
of a finished task is not run twice by the same worker.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from qtasks.interfaces.storage import DEFAULT_RESULT_TTL, Storage
from qtasks.task import FINAL_STATUSES, Task, TaskStatus
from qtasks_rabbitmq.exceptions import SharedStorageRequiredError

if TYPE_CHECKING:
    from qtasks_rabbitmq.broker import RabbitMQBroker

__all__ = ["DirectReplyStorage"]


class DirectReplyStorage(Storage):
    """Records of the tasks this process queued; results arrive by direct reply-to.

    ``result_ttl``: how long a finished record stays readable here. ``max_records``: the most
    finished records kept; the oldest go first. ``remember_finished``: how many uuids a
    worker remembers as finished, to skip redelivered copies.
    """

    def __init__(
        self,
        broker: RabbitMQBroker,
        *,
        result_ttl: float | None = DEFAULT_RESULT_TTL,
        max_records: int = 100_000,
        remember_finished: int = 10_000,
    ) -> None:
        super().__init__(result_ttl=result_ttl)
        self.broker = broker
        self.max_records = max_records
        self.remember_finished = remember_finished
        self._data: dict[str, bytes] = {}
        self._status: dict[str, TaskStatus] = {}
        self._finished: deque[tuple[float, str]] = deque()
        self._elsewhere: OrderedDict[str, TaskStatus] = OrderedDict()
        self._waiters: dict[str, asyncio.Event] = {}
        #: How many ``wait`` calls share each waiter, so the last one out removes it.
        self._waiting: dict[str, int] = {}
        broker._attach(self)

    async def start(self) -> None:
        """Forget waiters of a previous event loop."""
        self._waiters.clear()
        self._waiting.clear()

    # -- the producer's records ----------------------------------------------------------------

    def track(self, records: Sequence[Task]) -> None:
        """Keep the records of tasks this process is queueing; their results will come here."""
        for record in records:
            self._data[record.uuid] = self.encode_task(record)
            self._status[record.uuid] = record.status

    def deliver(self, body: bytes) -> None:
        """Store a final record a worker sent back, if it is one of ours."""
        try:
            record = self.decode_task(body)
        except (ValueError, TypeError, KeyError):
            return
        if record.uuid in self._status and record.status in FINAL_STATUSES:
            self._write(record, body)

    def _write(self, record: Task, data: bytes | None = None) -> None:
        self._data[record.uuid] = data if data is not None else self.encode_task(record)
        self._status[record.uuid] = record.status
        if record.status in FINAL_STATUSES:
            self._finished.append((time.monotonic(), record.uuid))
            waiter = self._waiters.pop(record.uuid, None)
            if waiter is not None:
                waiter.set()
            self._expire()

    def _expire(self) -> None:
        finished = self._finished
        horizon = None if self.result_ttl is None else time.monotonic() - self.result_ttl
        while finished and (
            len(finished) > self.max_records or (horizon is not None and finished[0][0] < horizon)
        ):
            _, uuid = finished.popleft()
            if self._status.get(uuid) in FINAL_STATUSES:
                self._data.pop(uuid, None)
                self._status.pop(uuid, None)

    # -- the Storage interface -----------------------------------------------------------------

    async def save(
        self, tasks: Sequence[Task], *, only_if: Collection[TaskStatus] | None = None
    ) -> list[bool]:
        """Update our own records; for others, reply to the producer that waits for them."""
        written: list[bool] = []
        replies: list[Task] = []
        for task in tasks:
            current = self._status.get(task.uuid) or self._elsewhere.get(task.uuid)
            if only_if is not None and current is not None and current not in only_if:
                written.append(False)
                continue
            if task.uuid in self._status:
                self._write(task)
                if task.status in FINAL_STATUSES:  # answered here, not over the wire
                    self.broker._routes.take(task.uuid)
            elif task.status in FINAL_STATUSES:
                self._remember(task)
                replies.append(task)
            written.append(True)
        if replies:
            await self.broker.send_replies(replies)
        return written

    def _remember(self, task: Task) -> None:
        elsewhere = self._elsewhere
        elsewhere[task.uuid] = task.status
        elsewhere.move_to_end(task.uuid)
        while len(elsewhere) > self.remember_finished:
            elsewhere.popitem(last=False)

    async def get_many(self, uuids: Sequence[str]) -> list[Task | None]:
        """Our own records; any other uuid raises ``SharedStorageRequiredError``."""
        self._expire()
        out: list[Task | None] = []
        for uuid in uuids:
            data = self._data.get(uuid)
            if data is None:
                raise SharedStorageRequiredError(uuid, "reading the record")
            out.append(self.decode_task(data))
        return out

    async def wait(self, uuid: str, timeout: float | None) -> Task | None:
        """Wait for the reply that finishes one of our tasks."""
        if uuid not in self._status:
            raise SharedStorageRequiredError(uuid, "waiting for the result")
        if self._status[uuid] not in FINAL_STATUSES:
            waiter = self._waiters.get(uuid)
            if waiter is None:
                waiter = self._waiters[uuid] = asyncio.Event()
            self._waiting[uuid] = self._waiting.get(uuid, 0) + 1
            try:
                await asyncio.wait_for(waiter.wait(), timeout)
            except asyncio.TimeoutError:
                return None
            finally:
                self._stop_waiting(uuid, waiter)
            if self._status.get(uuid) not in FINAL_STATUSES:
                return None
        return await self.get(uuid)

    def _stop_waiting(self, uuid: str, waiter: asyncio.Event) -> None:
        """Drop the waiter of ``uuid`` once nobody waits on it.

        A reply that never comes (lost in a reconnect, say) would otherwise leave one event
        per timed-out wait here for as long as the process lives.
        """
        left = self._waiting.pop(uuid, 1) - 1
        if left > 0:
            self._waiting[uuid] = left
        elif self._waiters.get(uuid) is waiter:
            del self._waiters[uuid]

    async def delete(self, uuids: Sequence[str]) -> int:
        """Forget records."""
        removed = 0
        for uuid in uuids:
            if self._data.pop(uuid, None) is not None:
                removed += 1
            self._status.pop(uuid, None)
        return removed

    def __len__(self) -> int:
        return len(self._data)
