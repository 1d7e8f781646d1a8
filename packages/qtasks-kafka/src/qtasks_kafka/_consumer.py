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
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from qtasks.interfaces.broker import Delivery
from qtasks_kafka._cluster import Cluster
from qtasks_kafka._envelope import read_headers
from qtasks_kafka._names import Names
from qtasks_kafka._tracker import Receipt, Tracker

__all__ = ["GroupConsumer", "Handle"]

logger = logging.getLogger("qtasks.kafka")


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
        records: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
        if wanted == self._topics and not any(bands.values()):
            records = await consumer.getmany(
                timeout_ms=int(timeout * 1000), max_records=max_records
            )
        else:
            records = await self._fetch_some(consumer, wanted, bands, max_records, timeout)
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

    async def _fetch_some(
        self,
        consumer: Any,
        wanted: set[str],
        bands: Mapping[str, int],
        max_records: int,
        timeout: float,
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        deadline = time.monotonic() + timeout
        while True:
            mine = [tp for tp in consumer.assignment() if tp.topic in wanted]
            by_band: dict[int, list[TopicPartition]] = {}
            for tp in mine:
                by_band.setdefault(bands.get(tp.topic, 0), []).append(tp)
            out: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
            room = max_records
            for band in sorted(by_band):
                got = await consumer.getmany(*by_band[band], timeout_ms=0, max_records=room)
                for tp, records in got.items():
                    out[tp] = records
                    room -= len(records)
                if room <= 0:
                    break
            if out:
                return out
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {}
            if mine:
                got = await consumer.getmany(
                    *mine, timeout_ms=int(min(remaining, 0.5) * 1000), max_records=max_records
                )
                if got:
                    return dict(got)
            else:
                await anyio.sleep(min(remaining, 0.05))

    async def _hand_out(
        self, consumer: Any, records: Mapping[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> list[Delivery]:
        if time.time() - self._purge_checked >= self._refresh_interval:
            await self._refresh_purged(consumer)
        missing = [tp for tp in records if tp not in self._seen]
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
        deliveries: list[tuple[int, int, Delivery]] = []
        seen_updates: dict[int, dict[TopicPartition, int]] = {}
        for tp, batch in records.items():
            place = self._topic_of(tp.topic)
            if place is None:
                continue
            queue, band = place
            chain = self._seen.setdefault(tp, [])
            purged = self._purged.get(tp, -1)
            held = self.tracker.peek(tp)
            handed = held.fetched_end if held is not None and held.fetched_end is not None else -1
            for record in batch:
                if record.offset < handed:
                    continue  # fetched again after a rebalance; this member already has it
                if record.offset < purged:
                    self.tracker.get(tp).skip(record.offset)
                    continue
                level = 1 + sum(1 for end in chain if record.offset < end)
                if level <= self._levels:
                    while len(chain) < level:
                        chain.append(0)
                    if chain[level - 1] < record.offset + 1:
                        chain[level - 1] = record.offset + 1
                        seen_updates.setdefault(level, {})[tp] = record.offset + 1
                info = read_headers(record.headers)
                receipt = self.tracker.deliver(tp, record.offset)
                delivery = Delivery(
                    body=record.value or b"",
                    queue=queue,
                    receipt=Handle(receipt, record.key),
                    delivery_count=info.deliveries + level,
                    uuid=info.uuid,
                    priority=info.priority,
                )
                deliveries.append((band, len(deliveries), delivery))
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
        deliveries.sort(key=lambda item: item[:2])
        return [d for _, _, d in deliveries]

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
