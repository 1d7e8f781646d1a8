"""How a QTasks message looks on RabbitMQ: AMQP properties, headers, priorities, delays.

QTasks runs lower priority numbers first; RabbitMQ delivers higher AMQP priorities first,
between 0 and the queue's ``x-max-priority``. The mapping puts QTasks priority 0 in the
middle of that range: ``amqp = max_priority // 2 - priority``, clamped to the range. With the
default ``max_priority=10`` the priorities -5 (first) to 5 (last) stay distinct; numbers
outside that range share the end they fall beyond. The exact QTasks priority also travels in
a header, so a dead letter or a redelivery keeps it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiormq.abc import AbstractChannel, DeliveredMessage
from pamqp.commands import Basic

from qtasks_rabbitmq.names import (
    DELAY_LEVELS,
    HEADER_DEAD_AT,
    HEADER_DELIVERED,
    HEADER_ETA,
    HEADER_PRIORITY,
    HEADER_QUEUE,
    HEADER_REASON,
    MESSAGE_TYPE_TASK,
    delay_bit,
)

__all__ = [
    "MAX_DELAY_MS",
    "Receipt",
    "amqp_priority",
    "dead_letter_properties",
    "delay_headers",
    "delay_ms",
    "header_int",
    "header_time",
    "qtasks_priority",
    "task_properties",
    "time_header",
]

#: The longest delay the delay levels express (about 49.7 days); longer ones hop again.
MAX_DELAY_MS = (1 << DELAY_LEVELS) - 1

PERSISTENT = 2
TRANSIENT = 1


@dataclass(slots=True, eq=False)
class Receipt:
    """What the broker needs to settle one delivery, kept in ``Delivery.receipt``.

    ``channel`` is the AMQP channel it came on: a delivery tag means nothing on any other,
    so after a reconnect an old receipt is skipped (RabbitMQ has requeued that message).
    ``delivered`` counts deliveries of earlier copies (the ``x-qtasks-delivered`` header).
    """

    channel: AbstractChannel
    tag: int
    queue: str
    uuid: str | None
    priority: int
    delivered: int
    reply_to: str | None
    eta: float | None
    redelivered: bool = False

    @property
    def stale(self) -> bool:
        """Whether the channel this delivery came on is gone."""
        return bool(self.channel.is_closed)


def amqp_priority(priority: int, max_priority: int) -> int:
    """The AMQP priority (higher first) for a QTasks priority (lower first)."""
    return min(max_priority, max(0, max_priority // 2 - priority))


def qtasks_priority(amqp: int | None, max_priority: int) -> int:
    """The QTasks priority of a message that carries no priority header."""
    return 0 if amqp is None else max_priority // 2 - amqp


def header_int(headers: Mapping[str, Any], name: str, default: int) -> int:
    """An integer header (or one written as text), or ``default`` when missing or malformed."""
    value = headers.get(name)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return default


def header_time(headers: Mapping[str, Any], name: str) -> float | None:
    """An epoch-milliseconds header as epoch seconds, or ``None``."""
    value = headers.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value / 1000
    return None


def time_header(epoch: float) -> int:
    """Epoch seconds as the integer milliseconds a header carries exactly."""
    return round(epoch * 1000)


def task_properties(
    *,
    uuid: str | None,
    priority: int,
    max_priority: int,
    delivered: int = 0,
    eta: float | None = None,
    reply_to: str | None = None,
) -> Basic.Properties:
    """Properties of a persistent task message.

    Headers are built afresh, never copied from a delivery: RabbitMQ drops a message that is
    dead-lettered into a queue already named in its ``x-death`` history, so a republished
    copy must not carry the history of its trip through the delay levels.
    """
    # The priority goes as text: pamqp 3.3 (what Python 3.10 gets) cannot encode a negative
    # integer in a header table.
    headers: dict[str, Any] = {HEADER_PRIORITY: str(priority)}
    if delivered:
        headers[HEADER_DELIVERED] = delivered
    if eta is not None:
        headers[HEADER_ETA] = time_header(eta)
    return Basic.Properties(
        delivery_mode=PERSISTENT,
        priority=amqp_priority(priority, max_priority),
        correlation_id=uuid or None,
        message_type=MESSAGE_TYPE_TASK,
        headers=headers,
        reply_to=reply_to,
    )


def dead_letter_properties(
    uuid: str | None, queue: str, priority: int, reason: str
) -> Basic.Properties:
    """Properties of a dead letter: why, from which queue, when, at which priority."""
    return Basic.Properties(
        delivery_mode=PERSISTENT,
        correlation_id=uuid,
        headers={
            HEADER_QUEUE: queue,
            HEADER_REASON: reason,
            HEADER_DEAD_AT: time_header(time.time()),
            HEADER_PRIORITY: str(priority),
        },
    )


def receipt_of(message: DeliveredMessage, queue: str, max_priority: int) -> Receipt:
    """Read what QTasks needs from a delivered message."""
    properties = message.header.properties
    headers: Mapping[str, Any] = properties.headers or {}
    priority = header_int(
        headers, HEADER_PRIORITY, qtasks_priority(properties.priority, max_priority)
    )
    tag: int | None = message.delivery_tag
    assert tag is not None
    return Receipt(
        channel=message.channel,
        tag=tag,
        queue=queue,
        uuid=properties.correlation_id or None,
        priority=priority,
        delivered=max(0, header_int(headers, HEADER_DELIVERED, 0)),
        reply_to=properties.reply_to or None,
        eta=header_time(headers, HEADER_ETA),
        redelivered=bool(message.redelivered),
    )


#: Delays keep this many significant bits: every set bit is one hop between delay levels
#: (about 1 ms each on RabbitMQ 3.10), so rounding a delay up to 7 significant bits bounds a
#: message to 7 hops at the price of at most 1/128 (0.8 %) of its delay.
SIGNIFICANT_BITS = 7


def delay_ms(seconds: float) -> int:
    """Milliseconds to wait: rounded up (never early) to 7 significant bits; capped."""
    milliseconds = min(MAX_DELAY_MS, max(0, math.ceil(seconds * 1000)))
    drop = milliseconds.bit_length() - SIGNIFICANT_BITS
    if drop <= 0:
        return milliseconds
    step = 1 << drop
    rounded = -(-milliseconds // step) * step
    return rounded if rounded <= MAX_DELAY_MS else milliseconds - milliseconds % step


def delay_headers(milliseconds: int) -> dict[str, str]:
    """The bit headers routing a message through the delay levels that add up to its delay.

    Level ``k`` holds a message ``2**k`` ms; a message visits the levels of the bits set in
    its delay, highest first, so every level holds messages of one TTL only and no message
    waits behind a longer one.
    """
    return {
        delay_bit(k): "1" if milliseconds >> k & 1 else "0"
        for k in range(milliseconds.bit_length())
    }
