"""Inspection and management: dead letters, queue depths, purge, requeue.

AMQP 0-9-1 can count a queue's ready messages (a passive declare) and read messages without
consuming them for good (``basic.get`` without ack, then closing the channel, which puts them
back in their places). It cannot count unacknowledged messages, so ``in_flight`` is ``None``,
nor ready messages per priority, so the whole ready count is reported under priority 0.
Messages this process has prefetched but not yet handed to its worker count as ready.
Dead letters of all queues share one queue per namespace; reading them scans at most
``scan_limit`` messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import aiormq
from aiormq.abc import AbstractChannel, DeliveredMessage
from pamqp.commands import Basic

from qtasks.interfaces.broker import DeadLetter, QueueStats
from qtasks_rabbitmq._wire import header_int, header_time, task_properties
from qtasks_rabbitmq.names import (
    DELAY_LEVELS,
    HEADER_DEAD_AT,
    HEADER_PRIORITY,
    HEADER_QUEUE,
    HEADER_REASON,
)

if TYPE_CHECKING:
    from qtasks_rabbitmq.broker import RabbitMQBroker

__all__ = ["dead_letters", "purge", "requeue_dead", "stats"]

Missing = aiormq.exceptions.ChannelNotFoundEntity


async def _scan(broker: RabbitMQBroker) -> tuple[AbstractChannel, list[DeliveredMessage]]:
    """Take up to ``scan_limit`` dead letters unacknowledged on a channel of their own."""
    await broker._topology.dead()
    channel = await broker._scratch_channel()
    found: list[DeliveredMessage] = []
    while len(found) < broker.scan_limit:
        message = await channel.basic_get(broker.names.dead, no_ack=False)
        if isinstance(message.delivery, Basic.GetEmpty):
            break
        found.append(message)
    return channel, found


async def _close(channel: AbstractChannel) -> None:
    """Close a scan channel; RabbitMQ puts every unacked message back in its place."""
    with contextlib.suppress(aiormq.exceptions.AMQPError, RuntimeError):
        await channel.close()


def _headers(message: DeliveredMessage) -> dict[str, Any]:
    return dict(message.header.properties.headers or {})


def _queue_of(message: DeliveredMessage) -> str:
    value = _headers(message).get(HEADER_QUEUE)
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _dead_letter(message: DeliveredMessage) -> DeadLetter:
    headers = _headers(message)
    reason = headers.get(HEADER_REASON)
    return DeadLetter(
        body=message.body,
        queue=_queue_of(message),
        reason=reason.decode() if isinstance(reason, bytes) else str(reason or ""),
        uuid=message.header.properties.correlation_id or None,
        dead_at=header_time(headers, HEADER_DEAD_AT) or 0.0,
        priority=header_int(headers, HEADER_PRIORITY, 0),
    )


async def dead_letters(broker: RabbitMQBroker, queue: str | None, limit: int) -> list[DeadLetter]:
    """Dead letters (optionally of one queue), oldest first, left where they are."""
    channel, found = await _scan(broker)
    try:
        chosen = [m for m in found if queue is None or _queue_of(m) == queue]
        return [_dead_letter(m) for m in chosen[:limit]]
    finally:
        await _close(channel)


async def requeue_dead(broker: RabbitMQBroker, queue: str | None, limit: int | None) -> int:
    """Publish dead letters back to their queues (confirmed), then remove them."""
    channel, found = await _scan(broker)
    try:
        chosen = [m for m in found if queue is None or _queue_of(m) == queue]
        if limit is not None:
            chosen = chosen[:limit]
        outs = []
        for message in chosen:
            letter = _dead_letter(message)
            properties = task_properties(
                uuid=letter.uuid, priority=letter.priority, max_priority=broker.max_priority
            )
            outs.append(await broker._routed(letter.queue, letter.body, properties, None, 0.0))
        await broker._publish(outs, broker.publish_timeout)
        for message in chosen:
            assert message.delivery_tag is not None
            await channel.basic_ack(message.delivery_tag)
        return len(chosen)
    finally:
        await _close(channel)


async def _count(
    broker: RabbitMQBroker, channel: AbstractChannel, queue: str, *, purge: bool
) -> tuple[AbstractChannel, int | None]:
    """Ready messages of a RabbitMQ queue (purging them if asked); ``None`` if it is missing."""
    try:
        if purge:
            purged = await channel.queue_purge(queue)
            return channel, int(purged.message_count or 0)
        declared = await channel.queue_declare(queue, passive=True)
        return channel, int(declared.message_count or 0)
    except Missing:
        return await broker._scratch_channel(), None


async def _depths(
    broker: RabbitMQBroker, channel: AbstractChannel, queue: str, *, purge: bool
) -> tuple[AbstractChannel, int, int]:
    """(ready, delayed) of a QTasks queue; delay levels exist bottom-up, so stop at a gap."""
    names = broker.names
    channel, ready = await _count(broker, channel, names.queue(queue), purge=purge)
    delayed = 0
    for level in range(DELAY_LEVELS):
        channel, count = await _count(broker, channel, names.delay_queue(queue, level), purge=purge)
        if count is None:
            break
        delayed += count
    return channel, ready or 0, delayed


async def stats(broker: RabbitMQBroker, queues: Sequence[str]) -> list[QueueStats]:
    """Depth of each queue; see the module docstring for what AMQP cannot count."""
    scan, found = await _scan(broker)
    dead: dict[str, int] = {}
    for message in found:
        name = _queue_of(message)
        dead[name] = dead.get(name, 0) + 1
    await _close(scan)
    channel = await broker._scratch_channel()
    out = []
    try:
        for queue in queues:
            channel, ready, delayed = await _depths(broker, channel, queue, purge=False)
            # Prefetched here but not yet handed to a worker: still ready, not in flight.
            ready += broker._prefetcher.buffered(queue)
            out.append(
                QueueStats(
                    queue=queue,
                    ready={0: ready} if ready else {},
                    delayed=delayed,
                    in_flight=None,
                    dead=dead.get(queue, 0),
                )
            )
    finally:
        await _close(channel)
    return out


async def purge(broker: RabbitMQBroker, queues: Sequence[str]) -> int:
    """Purge work queues and their delay levels; return how many messages went."""
    channel = await broker._scratch_channel()
    dropped = 0
    try:
        for queue in queues:
            channel, ready, delayed = await _depths(broker, channel, queue, purge=True)
            dropped += ready + delayed
    finally:
        await _close(channel)
    return dropped
