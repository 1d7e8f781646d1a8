"""Which offsets may be committed, when tasks finish in any order.

Kafka remembers one number per partition: the offset a group resumes from. A worker runs many
records of one partition at once and they finish out of order, so committing "the last record
that finished" would skip records still running, and a crash would lose them. The rule here:
the commit point of a partition is the lowest offset still in flight, or, with nothing in
flight, the offset after the highest one handed out. Offsets need not be consecutive (gaps
from compaction or control records are simply never delivered), so the rule never waits for
an offset that cannot come.

Pure bookkeeping, no I/O: the broker feeds it and sends the commits it computes.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["PartitionTracker", "Receipt", "Tracker"]

P = TypeVar("P", bound=Hashable)

_ids = itertools.count(1)


class PartitionTracker:
    """In-flight offsets of one partition held by this consumer."""

    __slots__ = ("_finished", "_heap", "_in_flight", "committed", "fetched_end", "id")

    def __init__(self) -> None:
        #: Changes whenever the partition is assigned afresh, so acks of an older
        #: assignment can be recognised and ignored.
        self.id = next(_ids)
        self._in_flight: set[int] = set()
        self._heap: list[int] = []  # in-flight offsets, with lazy deletion
        #: Finished offsets, a min-heap: those below the commit point are popped as it moves,
        #: so a commit costs nothing per task still waiting behind a long-running one.
        self._finished: list[int] = []
        #: The offset after the highest one handed out; ``None`` until the first one.
        self.fetched_end: int | None = None
        #: The last commit point sent to Kafka (``None``: nothing sent yet).
        self.committed: int | None = None

    def deliver(self, offset: int) -> None:
        """Record that ``offset`` was handed to a task."""
        if offset in self._in_flight:
            return
        self._in_flight.add(offset)
        heapq.heappush(self._heap, offset)
        if self.fetched_end is None or offset >= self.fetched_end:
            self.fetched_end = offset + 1

    def skip(self, offset: int) -> None:
        """Record an offset that is consumed without a task (purged, or a duplicate)."""
        if self.fetched_end is None or offset >= self.fetched_end:
            self.fetched_end = offset + 1

    def finish(self, offset: int) -> bool:
        """Mark ``offset`` finished; ``False`` if it was not in flight here."""
        if offset not in self._in_flight:
            return False
        self._in_flight.discard(offset)
        heapq.heappush(self._finished, offset)
        return True

    def commit_point(self) -> int | None:
        """The offset the group may resume from, or ``None`` if nothing was handed out."""
        heap = self._heap
        while heap and heap[0] not in self._in_flight:
            heapq.heappop(heap)
        point = heap[0] if heap else self.fetched_end
        finished = self._finished
        while finished and point is not None and finished[0] < point:
            heapq.heappop(finished)
        return point

    def pending_commit(self) -> int | None:
        """The commit point if it moved past what was last sent, else ``None``."""
        point = self.commit_point()
        if point is None or (self.committed is not None and point <= self.committed):
            return None
        return point

    @property
    def in_flight(self) -> int:
        """Offsets handed out and not finished."""
        return len(self._in_flight)

    @property
    def finished_above(self) -> int:
        """Finished offsets still waiting behind an unfinished lower one."""
        self.commit_point()
        return len(self._finished)

    def holds(self, offset: int) -> bool:
        """Whether ``offset`` is in flight here."""
        return offset in self._in_flight


class Receipt(Generic[P]):
    """What a delivery carries back to ``ack``: where the record was and under which tracker."""

    __slots__ = ("offset", "partition", "tracker_id")

    def __init__(self, partition: P, offset: int, tracker_id: int) -> None:
        self.partition = partition
        self.offset = offset
        self.tracker_id = tracker_id

    def __repr__(self) -> str:
        return f"Receipt({self.partition!r}, {self.offset}, tracker={self.tracker_id})"


class Tracker(Generic[P]):
    """Trackers of every partition a consumer holds, across rebalances.

    On revocation a partition's tracker is set aside, not dropped: with eager rebalancing a
    consumer loses every partition and usually gets most of them straight back, and its tasks
    keep running meanwhile. ``assign`` then keeps the trackers of partitions that came back
    (the caller seeks past what they already handed out) and drops the others; acks that
    still arrive for a dropped tracker are ignored, since another member now owns the offsets.
    """

    def __init__(self) -> None:
        self._active: dict[P, PartitionTracker] = {}
        self._suspended: dict[P, PartitionTracker] = {}

    def get(self, partition: P) -> PartitionTracker:
        """The tracker of an assigned partition (made on first use)."""
        tracker = self._active.get(partition)
        if tracker is None:
            tracker = self._active[partition] = PartitionTracker()
        return tracker

    def peek(self, partition: P) -> PartitionTracker | None:
        """The tracker of an active partition, if there is one."""
        return self._active.get(partition)

    def deliver(self, partition: P, offset: int) -> Receipt[P]:
        """Record a hand-out and return the receipt for its delivery."""
        tracker = self.get(partition)
        tracker.deliver(offset)
        return Receipt(partition, offset, tracker.id)

    def finish(self, receipt: Receipt[P]) -> bool:
        """Mark a delivery finished; ``False`` if its partition has moved on (or never held it)."""
        tracker = self._active.get(receipt.partition) or self._suspended.get(receipt.partition)
        if tracker is None or tracker.id != receipt.tracker_id:
            return False
        return tracker.finish(receipt.offset)

    def pending_commits(self, partitions: Iterable[P] | None = None) -> dict[P, int]:
        """Commit points that moved, for active partitions (all of them, or those given)."""
        wanted = self._active if partitions is None else partitions
        out: dict[P, int] = {}
        for partition in wanted:
            tracker = self._active.get(partition)
            if tracker is not None:
                point = tracker.pending_commit()
                if point is not None:
                    out[partition] = point
        return out

    def committed(self, commits: dict[P, int]) -> None:
        """Note that ``commits`` reached Kafka."""
        for partition, point in commits.items():
            tracker = self._active.get(partition) or self._suspended.get(partition)
            if tracker is not None and (tracker.committed is None or point > tracker.committed):
                tracker.committed = point

    def revoke(self, partitions: Iterable[P]) -> dict[P, int]:
        """Set the trackers of ``partitions`` aside; return their last commit points to send."""
        out: dict[P, int] = {}
        for partition in partitions:
            tracker = self._active.pop(partition, None)
            if tracker is None:
                continue
            self._suspended[partition] = tracker
            point = tracker.pending_commit()
            if point is not None:
                out[partition] = point
        return out

    def assign(self, partitions: Iterable[P]) -> dict[P, int]:
        """Take up ``partitions``; return, for those that came back, where to resume fetching.

        Trackers of revoked partitions not in ``partitions`` are dropped.
        """
        resume: dict[P, int] = {}
        assigned = set(partitions)
        for partition in assigned:
            tracker = self._suspended.pop(partition, None)
            if tracker is not None:
                self._active[partition] = tracker
                if tracker.fetched_end is not None:
                    resume[partition] = tracker.fetched_end
        self._suspended.clear()
        return resume

    def in_flight(self, partition: P) -> int:
        """Deliveries of ``partition`` not yet finished (0 if not held)."""
        tracker = self._active.get(partition) or self._suspended.get(partition)
        return 0 if tracker is None else tracker.in_flight

    def finished_above(self, partition: P) -> int:
        """Finished deliveries of ``partition`` waiting behind an unfinished one."""
        tracker = self._active.get(partition) or self._suspended.get(partition)
        return 0 if tracker is None else tracker.finished_above

    def held(self) -> list[P]:
        """Partitions with a tracker (active or set aside)."""
        return [*self._active, *self._suspended]

    def total_in_flight(self, partitions: Iterable[P]) -> int:
        """Deliveries not yet finished over ``partitions``."""
        return sum(self.in_flight(p) for p in partitions)
