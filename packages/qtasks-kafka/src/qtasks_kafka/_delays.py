"""Delays without head-of-line blocking: fixed-step delay topics and a forwarder.

Kafka hands out a partition in order, so one topic of messages with mixed due times would
make a message due in a second wait behind one due tomorrow. Each queue instead has a topic
per delay *step* (1 s, 4 s, 16 s ... by default). A message due in ``r`` seconds goes to the
largest step ``T <= r`` and leaves it ``T`` seconds after it entered; every record of a step
topic waits the same ``T``, so their release times grow with their offsets and the head of a
partition is always the first one due. On release the forwarder sends the message on to the
step that fits what remains, or to the ready topic once it is due. Messages due in less than
the smallest step wait in that topic until their exact due time (the forwarder reads ahead by
one smallest step, so they never hold up each other either).

A message takes at most ``factor - 1`` hops per step size (3 with the default factor of 4),
and each hop costs one produce and one fetch. A message is never ready early; it is late by
the forwarder's latency (a few milliseconds to tens of milliseconds per hop).

The forwarder runs in every worker process, in its own consumer group, and commits a delay
record's offset only once the record was sent on, with the same contiguous-offset tracker as
the workers: a forwarder killed mid-way means another one sends the records on (at least once).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from qtasks_kafka._envelope import Envelope, read_headers
from qtasks_kafka._tracker import Receipt, Tracker

__all__ = ["DEFAULT_DELAY_STEPS", "DelayForwarder", "DelayTopic", "plan_hop"]

logger = logging.getLogger("qtasks.kafka")

#: Seconds a message waits in each delay topic: powers of 4 up to a bit over an hour.
DEFAULT_DELAY_STEPS = (1, 4, 16, 64, 256, 1024, 4096)


def plan_hop(eta: float, now: float, steps: Sequence[int]) -> tuple[int | None, float]:
    """Where a message due at ``eta`` goes now: ``(step, release)``, or ``(None, now)`` if due.

    ``steps`` is sorted ascending. The release time never passes ``eta``.
    """
    remaining = eta - now
    if remaining <= 0:
        return None, now
    step = steps[0]
    for candidate in steps:
        if candidate <= remaining:
            step = candidate
        else:
            break
    return step, min(eta, now + step)


@dataclass(frozen=True)
class DelayTopic:
    """What the forwarder needs to know about one delay topic."""

    queue: str
    step: int


Produce = Callable[[Sequence[Envelope]], Awaitable[None]]
Watermarks = Callable[[Sequence[TopicPartition]], Awaitable[dict[TopicPartition, int]]]


@dataclass(order=True)
class _Held:
    """A delay record waiting for its release, already read into the envelope it goes on as."""

    release: float
    seq: int
    receipt: Receipt[TopicPartition]
    envelope: Envelope


class DelayForwarder(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Moves delayed messages along their delay topics and into ready topics when due."""

    def __init__(
        self,
        *,
        bootstrap: list[str],
        group: str,
        produce: Produce,
        purge_watermarks: Watermarks,
        consumer_options: Mapping[str, Any],
        lookahead: float,
        refresh_interval: float = 2.0,
    ) -> None:
        self._bootstrap = bootstrap
        self._group = group
        self._produce = produce
        self._purge_watermarks = purge_watermarks
        self._options = dict(consumer_options)
        self._lookahead = lookahead
        self._refresh_interval = refresh_interval
        self._topics: dict[str, DelayTopic] = {}
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None
        self._tracker: Tracker[TopicPartition] = Tracker()
        self._heap: list[_Held] = []
        self._seq = itertools.count()
        self._latest: dict[TopicPartition, float] = {}
        self._purged: dict[TopicPartition, int] = {}
        self._purge_checked = 0.0

    @property
    def running(self) -> bool:
        """Whether the forwarding task is alive."""
        return self._task is not None and not self._task.done()

    async def watch(self, topics: Mapping[str, DelayTopic]) -> None:
        """Forward the delay topics given (adding to those already watched); start if needed."""
        new = {t: d for t, d in topics.items() if t not in self._topics}
        if not new and self.running:
            return
        self._topics.update(new)
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=self._group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **self._options,
            )
            await consumer.start()
            self._consumer = consumer
        self._consumer.subscribe(sorted(self._topics), listener=self)
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=f"qtasks-kafka-delays-{self._group}")

    async def close(self) -> None:
        """Stop forwarding; records held and not yet sent on are read again by the group."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:
                logger.exception("the delay forwarder failed")
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await self._commit(consumer)
            try:
                await consumer.stop()
            except Exception:
                logger.debug("stopping the delay consumer failed", exc_info=True)
        self._heap.clear()
        self._latest.clear()
        self._tracker = Tracker()

    def forget_purge_marks(self) -> None:
        """Read the purge watermarks again on the next round (after a purge)."""
        self._purge_checked = 0.0

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self._step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1:
                    logger.error("delay forwarder failed, retrying with backoff: %r", exc)
                await asyncio.sleep(min(5.0, 0.05 * 2**failures))

    async def _step(self) -> None:
        consumer = self._consumer
        now = time.time()
        wait = 1.0
        if self._heap:
            wait = max(0.0, min(wait, self._heap[0].release - now))
        batch = await consumer.getmany(timeout_ms=int(wait * 1000), max_records=1000)
        if now - self._purge_checked >= self._refresh_interval:
            await self._refresh_purged(consumer)
        for tp, records in batch.items():
            self._hold(tp, records)
        await self._release_due(consumer)
        self._pace(consumer)

    def _hold(self, tp: TopicPartition, records: Iterable[ConsumerRecord[bytes, bytes]]) -> None:
        topic = self._topics.get(tp.topic)
        purged = self._purged.get(tp, -1)
        for record in records:
            if topic is None or record.offset < purged:
                self._tracker.get(tp).skip(record.offset)
                continue
            info = read_headers(record.headers)
            release = info.release if info.release is not None else 0.0
            receipt = self._tracker.deliver(tp, record.offset)
            envelope = Envelope(
                queue=topic.queue,
                body=record.value or b"",
                key=record.key,
                uuid=info.uuid or "",
                priority=info.priority,
                deliveries=info.deliveries,
                eta=info.eta,
            )
            heapq.heappush(self._heap, _Held(release, next(self._seq), receipt, envelope))
            self._latest[tp] = max(self._latest.get(tp, 0.0), release)

    async def _release_due(self, consumer: Any) -> None:
        now = time.time()
        due: list[_Held] = []
        while self._heap and self._heap[0].release <= now:
            due.append(heapq.heappop(self._heap))
        if due:
            try:
                await self._produce([held.envelope for held in due])
            except BaseException:
                for held in due:
                    heapq.heappush(self._heap, held)
                raise
            for held in due:
                self._tracker.finish(held.receipt)
        await self._commit(consumer)

    def _pace(self, consumer: Any) -> None:
        """Pause partitions whose held records are not due soon; resume the others."""
        horizon = time.time() + self._lookahead
        held = {h.receipt.partition for h in self._heap}
        pause, resume = [], []
        paused = consumer.paused()
        for tp in consumer.assignment():
            if tp in held and self._latest.get(tp, 0.0) > horizon:
                if tp not in paused:
                    pause.append(tp)
            elif tp in paused:
                resume.append(tp)
        if pause:
            consumer.pause(*pause)
        if resume:
            consumer.resume(*resume)

    async def _commit(self, consumer: Any) -> None:
        commits = self._tracker.pending_commits()
        if not commits:
            return
        try:
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in commits.items()})
        except KafkaError as exc:
            logger.debug("delay forwarder commit deferred: %r", exc)
            return
        self._tracker.committed(commits)

    async def _refresh_purged(self, consumer: Any) -> None:
        self._purge_checked = time.time()
        assigned = sorted(consumer.assignment())
        if assigned:
            self._purged.update(await self._purge_watermarks(assigned))
            kept = []
            for held in self._heap:
                if held.receipt.offset < self._purged.get(held.receipt.partition, -1):
                    self._tracker.finish(held.receipt)
                else:
                    kept.append(held)
            if len(kept) != len(self._heap):
                heapq.heapify(kept)
                self._heap = kept

    # -- rebalancing -------------------------------------------------------------------------

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Commit what was sent on, and forget held records (the next owner reads them)."""
        consumer = self._consumer
        if consumer is not None:
            commits = self._tracker.revoke(revoked)
            if commits:
                try:
                    await consumer.commit(
                        {tp: OffsetAndMetadata(o, "") for tp, o in commits.items()}
                    )
                except KafkaError as exc:
                    logger.debug("delay forwarder commit on revoke failed: %r", exc)
        self._tracker.assign(())
        self._heap = [h for h in self._heap if h.receipt.partition not in revoked]
        heapq.heapify(self._heap)
        for tp in revoked:
            self._latest.pop(tp, None)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Start from the committed offsets; read purge watermarks of the new partitions."""
        self._purge_checked = 0.0
