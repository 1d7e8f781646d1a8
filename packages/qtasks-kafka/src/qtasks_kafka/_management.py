"""Dead letters, requeueing, queue depths and purging, from offsets alone.

Kafka cannot delete single records (and Tansu cannot delete any), so "removed" is a watermark:
per partition, an offset below which records are skipped. Watermarks live in offset stores
(groups nobody joins): ``purged`` for ready and delay topics, ``requeued`` for dead-letter
topics. Depths come from end offsets and committed offsets, one request per group.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from qtasks.interfaces.broker import DeadLetter, QueueStats
from qtasks_kafka._envelope import Envelope, read_headers
from qtasks_kafka._names import H_DEAD_AT, H_QUEUE, H_REASON
from qtasks_kafka.exceptions import KafkaBrokerError

if TYPE_CHECKING:
    from qtasks_kafka._cluster import Cluster
    from qtasks_kafka._consumer import GroupConsumer
    from qtasks_kafka.broker import KafkaBroker

__all__ = ["dead_letters", "purge", "requeue_dead", "stats"]

Letter = tuple[DeadLetter, TopicPartition, ConsumerRecord[bytes, bytes]]


def _dead_letter(record: ConsumerRecord[bytes, bytes], fallback_queue: str) -> DeadLetter:
    found = dict(record.headers or ())
    info = read_headers(record.headers)
    reason = found.get(H_REASON, b"").decode(errors="replace")
    queue = found.get(H_QUEUE, b"").decode(errors="replace") or fallback_queue
    try:
        dead_at = float(found.get(H_DEAD_AT, b"").decode())
    except ValueError:
        dead_at = record.timestamp / 1000
    return DeadLetter(
        body=record.value or b"",
        queue=queue,
        reason=reason,
        uuid=info.uuid,
        dead_at=dead_at,
        priority=info.priority,
    )


async def _dead_topics(broker: KafkaBroker, cluster: Cluster, queue: str | None) -> list[str]:
    names = broker.names
    existing = await cluster.list_topics()
    if queue is not None:
        topic = names.dead(queue)
        return [topic] if topic in existing else []
    return sorted(t for t in existing if names.dead_queue(t) is not None)


async def _letters(
    broker: KafkaBroker, cluster: Cluster, queue: str | None, limit: int | None
) -> list[Letter]:
    names = broker.names
    topics = await _dead_topics(broker, cluster, queue)
    if not topics:
        return []
    parts = [TopicPartition(t, 0) for t in topics]
    starts = await cluster.beginning_offsets(parts)
    ends = await cluster.end_offsets(parts)
    requeued = await cluster.fetch_offsets(names.requeued_group, parts)
    per_topic: list[list[Letter]] = []
    for tp in parts:
        first = max(starts.get(tp, 0), requeued.get(tp, 0))
        records = await cluster.read(tp, first, ends.get(tp, 0), limit)
        fallback = names.dead_queue(tp.topic) or ""
        per_topic.append([(_dead_letter(r, fallback), tp, r) for r in records])
    merged = heapq.merge(*per_topic, key=lambda letter: letter[0].dead_at)
    out: list[Letter] = []
    for letter in merged:
        if limit is not None and len(out) >= limit:
            break
        out.append(letter)
    return out


async def dead_letters(
    broker: KafkaBroker, cluster: Cluster, queue: str | None, limit: int
) -> list[tuple[DeadLetter, TopicPartition]]:
    """Dead letters above the requeue watermark, oldest first."""
    try:
        return [(letter, tp) for letter, tp, _ in await _letters(broker, cluster, queue, limit)]
    except KafkaError as exc:
        raise KafkaBrokerError(f"cannot read dead letters: {exc!r}") from exc


async def requeue_dead(
    broker: KafkaBroker, cluster: Cluster, queue: str | None, limit: int | None
) -> int:
    """Produce the oldest dead letters to their ready topics, then raise the watermark."""
    try:
        chosen = await _letters(broker, cluster, queue, limit)
        if not chosen:
            return 0
        await broker.produce(
            [
                Envelope(
                    letter.queue,
                    letter.body,
                    record.key,
                    letter.uuid or "",
                    letter.priority,
                )
                for letter, _, record in chosen
            ]
        )
        marks: dict[TopicPartition, int] = {}
        for _, tp, record in chosen:
            marks[tp] = max(marks.get(tp, 0), record.offset + 1)
        await cluster.commit_offsets(broker.names.requeued_group, marks)
    except KafkaError as exc:
        raise KafkaBrokerError(f"cannot requeue dead letters: {exc!r}") from exc
    return len(chosen)


def _band_key(broker: KafkaBroker, band: int) -> int:
    bounds = broker.priority_bands
    if band < len(bounds):
        return bounds[band]
    return bounds[-1] + 1 if bounds else 0


async def _offsets(broker: KafkaBroker, cluster: Cluster, queues: Sequence[str]) -> dict[str, Any]:
    names = broker.names
    await broker.ensure_queues(queues)
    ready_topics = [t for q in queues for t in broker.ready_topics(q)]
    delay_topics = [names.delay(q, s) for q in queues for s in broker.delay_steps]
    dead_topics = [names.dead(q) for q in queues]
    parts = await cluster.partitions([*ready_topics, *delay_topics, *dead_topics])
    ready = [tp for tp in parts if tp.topic in set(ready_topics)]
    delay = [tp for tp in parts if tp.topic in set(delay_topics)]
    dead = [tp for tp in parts if tp.topic in set(dead_topics)]
    return {
        "ready": ready,
        "delay": delay,
        "dead": dead,
        "starts": await cluster.beginning_offsets(parts),
        "ends": await cluster.end_offsets(parts),
        "committed": await cluster.fetch_offsets(names.group, ready),
        "seen": await cluster.fetch_offsets(names.seen_group(1), ready),
        "purged": await cluster.fetch_offsets(names.purged_group, [*ready, *delay]),
        "forwarded": await cluster.fetch_offsets(names.delay_group, delay),
        "requeued": await cluster.fetch_offsets(names.requeued_group, dead),
    }


async def stats(
    broker: KafkaBroker,
    cluster: Cluster,
    queues: Sequence[str],
    member: GroupConsumer | None,
) -> list[QueueStats]:
    """Depths per queue: ready per band, delayed, delivered-not-committed, dead."""
    try:
        found = await _offsets(broker, cluster, queues)
    except KafkaError as exc:
        raise KafkaBrokerError(f"cannot read the depths of {list(queues)}: {exc!r}") from exc
    starts, ends = found["starts"], found["ends"]
    out = []
    for queue in queues:
        ready: dict[int, int] = {}
        in_flight = 0
        for band, topic in enumerate(broker.ready_topics(queue)):
            count = 0
            for tp in (p for p in found["ready"] if p.topic == topic):
                base = max(starts.get(tp, 0), found["committed"].get(tp, 0))
                delivered = max(base, found["seen"].get(tp, 0))
                count += max(0, ends.get(tp, 0) - max(delivered, found["purged"].get(tp, 0)))
                finished = member.tracker.finished_above(tp) if member is not None else 0
                in_flight += max(0, delivered - base - finished)
            if count:
                key = _band_key(broker, band)
                ready[key] = ready.get(key, 0) + count
        delayed = 0
        steps = {broker.names.delay(queue, step) for step in broker.delay_steps}
        for tp in found["delay"]:
            if tp.topic not in steps:
                continue
            done = max(starts.get(tp, 0), found["forwarded"].get(tp, 0), found["purged"].get(tp, 0))
            delayed += max(0, ends.get(tp, 0) - done)
        dead = 0
        for tp in found["dead"]:
            if tp.topic == broker.names.dead(queue):
                done = max(starts.get(tp, 0), found["requeued"].get(tp, 0))
                dead += max(0, ends.get(tp, 0) - done)
        out.append(QueueStats(queue, dict(sorted(ready.items())), delayed, in_flight, dead))
    return out


async def purge(
    broker: KafkaBroker,
    cluster: Cluster,
    queues: Sequence[str],
    member: GroupConsumer | None,
) -> int:
    """Raise the purge watermark of every ready and delay partition to its end offset."""
    try:
        found = await _offsets(broker, cluster, queues)
        starts, ends = found["starts"], found["ends"]
        dropped = 0
        marks: dict[TopicPartition, int] = {}
        for tp in found["ready"]:
            base = max(
                starts.get(tp, 0),
                found["committed"].get(tp, 0),
                found["seen"].get(tp, 0),
                found["purged"].get(tp, 0),
            )
            dropped += max(0, ends.get(tp, 0) - base)
            marks[tp] = ends.get(tp, 0)
        for tp in found["delay"]:
            base = max(starts.get(tp, 0), found["forwarded"].get(tp, 0), found["purged"].get(tp, 0))
            dropped += max(0, ends.get(tp, 0) - base)
            marks[tp] = ends.get(tp, 0)
        await cluster.commit_offsets(broker.names.purged_group, marks)
    except KafkaError as exc:
        raise KafkaBrokerError(f"cannot purge {list(queues)}: {exc!r}") from exc
    if member is not None:
        member.forget_purge_marks()
    broker.forget_purge_marks()
    return dropped
