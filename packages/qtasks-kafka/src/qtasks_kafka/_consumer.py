"""The workers' consumer group: fetching, delivery counts, commits and rebalances.

Delivery counts. Kafka does not count deliveries, and a record read again after its consumer
died looks exactly like a new one. Offset stores keep the count: the group
``qtasks.<app>.seen-<n>`` holds, per partition, the end of the range of records delivered at
least ``n`` times, written before the records are handed out. A member that takes over a
partition reads those ends and knows how often each uncommitted record was delivered before,
so a task that keeps killing its worker reaches ``max_deliveries`` and is dead-lettered. In
steady state this costs one small offset commit per fetch.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

import anyio
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from qtasks.interfaces.broker import Delivery
from qtasks_kafka._cluster import Cluster
from qtasks_kafka._envelope import read_headers
from qtasks_kafka._names import Names
from qtasks_kafka._tracker import Receipt, Tracker

__all__ = ["GroupConsumer", "Handle"]

logger = logging.getLogger("qtasks.kafka")

#: aiokafka's ConsumerRecord; the library ships no type information.
Record: TypeAlias = Any
#: A record of a worse band waits until better bands were polled this long after it was made.
_BAND_SETTLE_MS = 50
#: ... but never longer than this (a slow or stuck partition must not stall the others).
_BAND_SETTLE_LIMIT = 0.5


class Handle:
    """The receipt of a Kafka delivery: where the record is, and its key for copies."""

    __slots__ = ("key", "receipt")

    def __init__(self, receipt: Receipt[TopicPartition], key: bytes | None) -> None:
        self.receipt = receipt
        self.key = key

    def __repr__(self) -> str:
        return f"Handle({self.receipt!r})"


class GroupConsumer(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """One member of the app's worker group, handing records out as deliveries."""

    def __init__(
        self,
        *,
        bootstrap: list[str],
        names: Names,
        cluster: Cluster,
        consumer_options: Mapping[str, Any],
        topic_of: Callable[[str], tuple[str, int] | None],
        max_tracked_deliveries: int,
        rebalance_grace: float,
        refresh_interval: float = 2.0,
    ) -> None:
        self._bootstrap = bootstrap
        self._names = names
        self._cluster = cluster
        self._options = dict(consumer_options)
        self._topic_of = topic_of
        self._levels = max_tracked_deliveries
        self._grace = rebalance_grace
        self._refresh_interval = refresh_interval
        self._consumer: Any = None
        self._topics: set[str] = set()
        self.tracker: Tracker[TopicPartition] = Tracker()
        #: Per partition: ends of the ranges delivered at least 1, 2, ... times.
        self._seen: dict[TopicPartition, list[int]] = {}
        self._purged: dict[TopicPartition, int] = {}
        self._purge_checked = 0.0
        #: Fetched and not yet handed out, per partition in offset order.
        self._stash: dict[TopicPartition, collections.deque[Record]] = {}
        self._finished = asyncio.Event()
        #: Set while the member holds a settled assignment (the listener has run).
        self._stable = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    async def subscribe(self, topics: Sequence[str]) -> None:
        """Consume ``topics`` too (the subscription only grows, so nothing in flight is lost)."""
        wanted = self._topics | set(topics)
        if self._consumer is not None and wanted == self._topics:
            return
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=self._names.group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **self._options,
            )
            await consumer.start()
            self._consumer = consumer
        self._topics = wanted
        self._consumer.subscribe(sorted(wanted), listener=self)

    async def close(self) -> None:
        """Commit what finished and leave the group; unfinished records go to other members."""
        consumer, self._consumer = self._consumer, None
        self._topics = set()
        if consumer is None:
            return
        try:
            await self._commit(consumer)
        finally:
            try:
                await consumer.stop()
            except Exception:
                logger.debug("stopping the Kafka consumer failed", exc_info=True)
            self.tracker = Tracker()
            self._seen.clear()
            self._purged.clear()
            self._stash.clear()

    def touch(self) -> None:
        """Count as polling while the worker is too busy to fetch.

        aiokafka makes a member leave its group when it has not fetched for
        ``max_poll_interval_ms``; a worker whose every slot is taken by long tasks does not
        fetch, yet is alive and will finish them. The worker's heartbeat calls this.
        """
        state = getattr(self._consumer, "_subscription", None)
        context = getattr(state, "fetch_context", None)
        if context is not None:
            with context():
                pass

    # -- fetching ----------------------------------------------------------------------------

    async def fetch(
        self, topics: Sequence[str], bands: Mapping[str, int], max_records: int, timeout: float
    ) -> list[Delivery]:
        """Wait up to ``timeout`` s for records of ``topics`` and hand them out, best band first.

        Time spent while the group (re)balances does not count against ``timeout``: a member
        waiting for its partitions has not yet looked for records.
        """
        consumer = self._consumer
        wanted = set(topics)
        records: list[tuple[TopicPartition, Record]]
        if wanted == self._topics and not any(bands.values()) and not self._stash:
            batch = await consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_records)
            records = [(tp, record) for tp, part in batch.items() for record in part]
        else:
            records = await self._fetch_ordered(consumer, wanted, bands, max_records, timeout)
        if not records:
            return []
        handed: list[Delivery] = []  # assigned in the shield: mypy cannot see it always runs
        with anyio.CancelScope(shield=True):
            # aiokafka can return records between taking up an assignment and running the
            # listener; hand them out only once the listener has settled the trackers.
            with anyio.move_on_after(60):
                await self._stable.wait()
            handed = await self._hand_out(consumer, records)
        return handed  # noqa: RET504

    # -- fetching some topics, best band first -----------------------------------------------

    async def _fetch_ordered(
        self,
        consumer: Any,
        wanted: set[str],
        bands: Mapping[str, int],
        max_records: int,
        timeout: float,
    ) -> list[tuple[TopicPartition, Record]]:
        """Records of ``wanted`` topics, best band first, through the stash.

        Fetched records wait in the stash, in offset order per partition, until they are
        handed out, so a later call for other topics or a call that stops early never loses
        or reorders them. A record of band ``k`` is handed out only once every partition of a
        better band was polled after that record was produced (plus a small margin), so a
        message sent to a better band at the same moment is not overtaken.
        """
        # Like aiokafka's own getmany, do not count a group (re)balance against the timeout.
        with anyio.move_on_after(max(60.0, timeout)):
            await self._stable.wait()
        deadline = time.monotonic() + timeout
        settle_deadline: float | None = None
        while True:
            mine = [tp for tp in consumer.assignment() if tp.topic in wanted]
            if mine:
                self._stash_add(await consumer.getmany(*mine, timeout_ms=0))
            force = settle_deadline is not None and time.monotonic() >= settle_deadline
            picked, unsettled = self._pick(consumer, mine, bands, max_records, force)
            if picked:
                return picked
            now = time.monotonic()
            if unsettled:
                if settle_deadline is None:
                    settle_deadline = now + _BAND_SETTLE_LIMIT
                self._stash_add(await consumer.getmany(*unsettled, timeout_ms=20))
                continue
            remaining = deadline - now
            if remaining <= 0:
                return []
            if mine:
                wait_ms = int(min(remaining, 0.5) * 1000)
                self._stash_add(await consumer.getmany(*mine, timeout_ms=wait_ms))
            else:
                await anyio.sleep(min(remaining, 0.05))

    def _stash_add(self, batch: Mapping[TopicPartition, list[Record]]) -> None:
        for tp, records in batch.items():
            self._stash.setdefault(tp, collections.deque()).extend(records)

    def _pick(
        self,
        consumer: Any,
        mine: list[TopicPartition],
        bands: Mapping[str, int],
        max_records: int,
        force: bool,
    ) -> tuple[list[tuple[TopicPartition, Record]], list[TopicPartition]]:
        """Take up to ``max_records`` stashed records, best band first.

        Returns the records, and (when none could be taken yet) the better-band partitions
        whose last poll is too old to be sure they are empty.
        """
        heads: list[tuple[int, int, int, TopicPartition]] = []
        for tp in mine:
            queue = self._stash.get(tp)
            if queue:
                heads.append((bands.get(tp.topic, 0), queue[0].timestamp, queue[0].offset, tp))
        heapq.heapify(heads)
        picked: list[tuple[TopicPartition, Record]] = []
        while heads and len(picked) < max_records:
            band, stamp, _, tp = heads[0]
            if band and not force:
                stale = [
                    other
                    for other in mine
                    if bands.get(other.topic, 0) < band
                    and (consumer.last_poll_timestamp(other) or 0) < stamp + _BAND_SETTLE_MS
                ]
                if stale:
                    return picked, ([] if picked else stale)
            heapq.heappop(heads)
            queue = self._stash[tp]
            picked.append((tp, queue.popleft()))
            if queue:
                heapq.heappush(heads, (band, queue[0].timestamp, queue[0].offset, tp))
            else:
                del self._stash[tp]
        return picked, []

    async def _hand_out(
        self, consumer: Any, records: Sequence[tuple[TopicPartition, Record]]
    ) -> list[Delivery]:
        if time.time() - self._purge_checked >= self._refresh_interval:
            await self._refresh_purged(consumer)
        missing = list({tp for tp, _ in records if tp not in self._seen})
        if missing:
            try:
                await self._load_seen(missing)
            except KafkaError as exc:
                logger.warning(
                    "could not read delivery counts (%r); redeliveries of "
                    "partitions %s may be counted low",
                    exc,
                    missing,
                )
        deliveries: list[Delivery] = []
        seen_updates: dict[int, dict[TopicPartition, int]] = {}
        for tp, record in records:
            place = self._topic_of(tp.topic)
            if place is None:
                continue
            queue = place[0]
            held = self.tracker.peek(tp)
            if (
                held is not None
                and held.fetched_end is not None
                and record.offset < held.fetched_end
            ):
                continue  # fetched again after a rebalance; this member already has it
            if record.offset < self._purged.get(tp, -1):
                self.tracker.get(tp).skip(record.offset)
                continue
            chain = self._seen.setdefault(tp, [])
            level = 1 + sum(1 for end in chain if record.offset < end)
            if level <= self._levels:
                while len(chain) < level:
                    chain.append(0)
                if chain[level - 1] < record.offset + 1:
                    chain[level - 1] = record.offset + 1
                    seen_updates.setdefault(level, {})[tp] = record.offset + 1
            info = read_headers(record.headers)
            receipt = self.tracker.deliver(tp, record.offset)
            deliveries.append(
                Delivery(
                    body=record.value or b"",
                    queue=queue,
                    receipt=Handle(receipt, record.key),
                    delivery_count=info.deliveries + level,
                    uuid=info.uuid,
                    priority=info.priority,
                )
            )
        for level, ends in sorted(seen_updates.items()):
            try:
                await self._cluster.commit_offsets(self._names.seen_group(level), ends)
            except KafkaError as exc:
                logger.warning(
                    "could not record delivery counts (%r); a redelivery after a "
                    "crash may be counted low",
                    exc,
                )
        await self._commit(consumer)
        return deliveries

    async def _refresh_purged(self, consumer: Any) -> None:
        self._purge_checked = time.time()
        assigned = sorted(consumer.assignment())
        if not assigned:
            return
        try:
            self._purged.update(
                await self._cluster.fetch_offsets(self._names.purged_group, assigned)
            )
        except KafkaError as exc:
            logger.debug("could not read purge watermarks: %r", exc)

    def forget_purge_marks(self) -> None:
        """Read the purge watermarks again before the next hand-out (after a purge)."""
        self._purge_checked = 0.0

    # -- settling ----------------------------------------------------------------------------

    def finish(self, handles: Sequence[Handle]) -> None:
        """Mark deliveries finished (acked, nacked or dead-lettered)."""
        for handle in handles:
            self.tracker.finish(handle.receipt)
        self._finished.set()

    async def commit(self) -> None:
        """Send the commit points that moved."""
        if self._consumer is not None:
            await self._commit(self._consumer)

    async def _commit(self, consumer: Any) -> None:
        assigned = consumer.assignment()
        commits = self.tracker.pending_commits(p for p in list(assigned))
        if not commits:
            return
        try:
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in commits.items()})
        except KafkaError as exc:
            # A rebalance is under way: the revocation callback commits, or the partition
            # went to another member that resumes from the last commit (at least once).
            logger.debug("commit deferred: %r", exc)
            return
        self.tracker.committed(commits)

    # -- rebalancing -------------------------------------------------------------------------

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Give running tasks a moment to finish, then commit for the partitions leaving."""
        self._stable.clear()
        for tp in revoked:
            self._stash.pop(tp, None)  # never handed out: the partition's next owner reads them
        consumer = self._consumer
        if consumer is None or not revoked:
            return
        deadline = time.monotonic() + self._grace
        while self.tracker.total_in_flight(revoked):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._finished.clear()
            try:
                await asyncio.wait_for(self._finished.wait(), remaining)
            except asyncio.TimeoutError:
                break
        commits = self.tracker.revoke(revoked)
        if commits:
            try:
                await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in commits.items()})
                self.tracker.committed(commits)
            except KafkaError as exc:
                logger.warning(
                    "could not commit before a rebalance (%r); finished tasks of "
                    "those partitions may run again",
                    exc,
                )

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Resume kept partitions past what they handed out; load counts of new ones."""
        consumer = self._consumer
        resume = self.tracker.assign(assigned)
        for tp, position in resume.items():
            consumer.seek(tp, position)
        for tp in list(self._seen):
            if tp not in assigned:
                del self._seen[tp]
        for tp in assigned:
            if tp not in resume and self.tracker.peek(tp) is None:
                self._seen.pop(tp, None)  # read again from the stores on first hand-out
        self._purge_checked = 0.0
        self._stable.set()

    async def _load_seen(self, partitions: list[TopicPartition]) -> None:
        levels = range(1, self._levels + 1)
        found = await asyncio.gather(
            *(
                self._cluster.fetch_offsets(self._names.seen_group(level), partitions)
                for level in levels
            )
        )
        for tp in partitions:
            chain = []
            for ends in found:
                end = ends.get(tp)
                if end is None:
                    break
                chain.append(end)
            self._seen[tp] = chain

    # -- introspection -----------------------------------------------------------------------

    def assignment(self) -> set[TopicPartition]:
        """Partitions this member holds now."""
        return set(self._consumer.assignment()) if self._consumer is not None else set()
