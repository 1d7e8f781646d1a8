"""The commit-point bookkeeping: out-of-order completion, gaps, rebalances."""

from __future__ import annotations

import random

from qtasks_kafka._tracker import PartitionTracker, Tracker


def test_nothing_handed_out_means_nothing_to_commit() -> None:
    tracker = PartitionTracker()
    assert tracker.commit_point() is None
    assert tracker.pending_commit() is None


def test_commit_point_waits_for_the_lowest_unfinished_offset() -> None:
    tracker = PartitionTracker()
    for offset in range(5):
        tracker.deliver(offset)
    assert tracker.commit_point() == 0
    tracker.finish(3)
    tracker.finish(1)
    assert tracker.commit_point() == 0  # 0 still runs: nothing may be committed
    tracker.finish(0)
    assert tracker.commit_point() == 2  # 0 and 1 done; 2 still runs
    tracker.finish(2)
    assert tracker.commit_point() == 4  # 3 finished earlier, so the point jumps past it
    tracker.finish(4)
    assert tracker.commit_point() == 5


def test_gaps_in_offsets_never_block_the_commit() -> None:
    tracker = PartitionTracker()
    for offset in (10, 11, 15, 20):  # compaction or control records left gaps
        tracker.deliver(offset)
    tracker.finish(10)
    tracker.finish(11)
    assert tracker.commit_point() == 15
    tracker.finish(20)
    assert tracker.commit_point() == 15
    tracker.finish(15)
    assert tracker.commit_point() == 21


def test_skipped_offsets_move_the_commit_point_when_nothing_runs() -> None:
    tracker = PartitionTracker()
    tracker.skip(0)
    tracker.skip(1)
    assert tracker.commit_point() == 2
    tracker.deliver(2)
    tracker.skip(3)
    assert tracker.commit_point() == 2
    tracker.finish(2)
    assert tracker.commit_point() == 4


def test_finish_of_an_unknown_or_repeated_offset_is_refused() -> None:
    tracker = PartitionTracker()
    tracker.deliver(7)
    assert tracker.finish(8) is False
    assert tracker.finish(7) is True
    assert tracker.finish(7) is False
    assert tracker.commit_point() == 8


def test_delivering_the_same_offset_twice_counts_once() -> None:
    tracker = PartitionTracker()
    tracker.deliver(0)
    tracker.deliver(0)
    assert tracker.in_flight == 1
    tracker.finish(0)
    assert tracker.in_flight == 0
    assert tracker.commit_point() == 1


def test_pending_commit_reports_only_moves_past_the_last_commit() -> None:
    tracker = PartitionTracker()
    tracker.deliver(0)
    tracker.deliver(1)
    assert tracker.pending_commit() == 0
    tracker.committed = 0
    assert tracker.pending_commit() is None
    tracker.finish(1)
    assert tracker.pending_commit() is None  # 0 still running
    tracker.finish(0)
    assert tracker.pending_commit() == 2


def test_finished_above_counts_tasks_waiting_behind_a_running_one() -> None:
    tracker = PartitionTracker()
    for offset in range(4):
        tracker.deliver(offset)
    tracker.finish(2)
    tracker.finish(3)
    assert tracker.finished_above == 2
    tracker.finish(0)
    tracker.finish(1)
    assert tracker.finished_above == 0


def test_random_completion_order_matches_a_simple_model() -> None:
    rng = random.Random(20261204)
    for _ in range(200):
        offsets = sorted(rng.sample(range(60), rng.randint(1, 30)))
        tracker = PartitionTracker()
        for offset in offsets:
            tracker.deliver(offset)
        done: set[int] = set()
        order = offsets[:]
        rng.shuffle(order)
        for offset in order:
            tracker.finish(offset)
            done.add(offset)
            unfinished = [o for o in offsets if o not in done]
            expected = unfinished[0] if unfinished else offsets[-1] + 1
            assert tracker.commit_point() == expected
            # Never past a record whose task is unfinished:
            assert all(o >= tracker.commit_point() for o in unfinished)


def test_tracker_commits_per_partition() -> None:
    tracker: Tracker[str] = Tracker()
    a0 = tracker.deliver("a", 0)
    a1 = tracker.deliver("a", 1)
    b5 = tracker.deliver("b", 5)
    assert tracker.finish(a1)
    assert tracker.pending_commits() == {"a": 0, "b": 5}
    tracker.committed({"a": 0, "b": 5})
    assert tracker.pending_commits() == {}
    assert tracker.finish(a0)
    assert tracker.finish(b5)
    assert tracker.pending_commits() == {"a": 2, "b": 6}
    assert tracker.pending_commits(["b"]) == {"b": 6}


def test_revoked_partition_that_comes_back_keeps_its_deliveries() -> None:
    tracker: Tracker[str] = Tracker()
    first = tracker.deliver("p", 0)
    second = tracker.deliver("p", 1)
    assert tracker.finish(second)
    assert tracker.revoke(["p"]) == {"p": 0}
    # A task finishing during the rebalance is still recorded.
    assert tracker.finish(first)
    resume = tracker.assign(["p"])
    assert resume == {"p": 2}  # fetch again after what was handed out, not from the commit
    assert tracker.pending_commits() == {"p": 2}


def test_lost_partition_ignores_late_acks() -> None:
    tracker: Tracker[str] = Tracker()
    old = tracker.deliver("p", 0)
    tracker.revoke(["p"])
    assert tracker.assign(["q"]) == {}
    assert tracker.finish(old) is False  # another member owns offset 0 now
    assert tracker.pending_commits() == {}
    # If the partition is assigned back later it starts afresh: old receipts stay invalid.
    fresh = tracker.deliver("p", 0)
    assert fresh.tracker_id != old.tracker_id
    assert tracker.finish(old) is False
    assert tracker.in_flight("p") == 1
    assert tracker.finish(fresh)


def test_revoke_returns_only_moved_commit_points() -> None:
    tracker: Tracker[str] = Tracker()
    receipt = tracker.deliver("p", 3)
    tracker.finish(receipt)
    tracker.committed({"p": 4})
    assert tracker.revoke(["p", "never-held"]) == {}
    assert tracker.held() == ["p"]
    tracker.assign([])
    assert tracker.held() == []


def test_in_flight_totals_span_active_and_revoked_partitions() -> None:
    tracker: Tracker[str] = Tracker()
    tracker.deliver("a", 0)
    tracker.deliver("b", 0)
    tracker.deliver("b", 1)
    tracker.revoke(["b"])
    assert tracker.total_in_flight(["a", "b"]) == 3
    assert tracker.in_flight("b") == 2
    assert tracker.finished_above("b") == 0
