"""Every name this backend puts on the RabbitMQ server or on a message, in one place.

Queues and exchanges start with the app's namespace (``Component.namespace``, the app name),
so two apps, or two tests, can share one server and each can delete only what it made:

==============================  ==========================================================
``{ns}.q.{queue}``              work queue: durable, ``x-max-priority``
``{ns}.q.{queue}.delay.{k}``    delay level ``k``: holds messages ``2**k`` ms, then
                                dead-letters them to ``{ns}.x.{queue}.delay.{k}``
``{ns}.x.{queue}.delay.{k}``    headers exchange deciding where a message goes after level
                                ``k`` (level ``k-1``, the next exchange down, or, for
                                ``k == 0``, the work queue)
``{ns}.dead``                   dead letters of every queue of the namespace
==============================  ==========================================================

Headers on task messages start with ``x-qtasks-``; the delay bits do not, because a headers
exchange is not meant to match on ``x-`` arguments.
"""

from __future__ import annotations

__all__ = [
    "DELAY_BIT_PREFIX",
    "DELAY_LEVELS",
    "HEADER_DEAD_AT",
    "HEADER_DELIVERED",
    "HEADER_ETA",
    "HEADER_PRIORITY",
    "HEADER_QUEUE",
    "HEADER_REASON",
    "MESSAGE_TYPE_RESULT",
    "MESSAGE_TYPE_TASK",
    "REPLY_TO",
    "Names",
    "delay_bit",
]

#: The pseudo-queue RabbitMQ offers for direct reply-to (no queue is declared for replies).
REPLY_TO = "amq.rabbitmq.reply-to"

#: The QTasks priority a message was queued with (lower runs first), kept exactly.
HEADER_PRIORITY = "x-qtasks-priority"
#: How many times earlier copies of this message were handed to a worker.
HEADER_DELIVERED = "x-qtasks-delivered"
#: When a delayed message is due (epoch milliseconds, an integer: AMQP tables carry Python
#: floats as 32-bit floats, far too coarse for a timestamp), to catch delays past the levels.
HEADER_ETA = "x-qtasks-eta-ms"
#: On a dead letter: the QTasks queue it came from, why, and when (epoch milliseconds).
HEADER_QUEUE = "x-qtasks-queue"
HEADER_REASON = "x-qtasks-reason"
HEADER_DEAD_AT = "x-qtasks-dead-at-ms"

#: AMQP ``type`` property of task messages and of results sent by direct reply-to.
MESSAGE_TYPE_TASK = "qtasks.task"
MESSAGE_TYPE_RESULT = "qtasks.result"

#: Delay levels: level ``k`` holds a message ``2**k`` ms, so 32 levels reach about 49.7 days.
DELAY_LEVELS = 32
DELAY_BIT_PREFIX = "qtasks-delay-bit-"


def delay_bit(level: int) -> str:
    """The header that says whether a delayed message passes through level ``level``."""
    return f"{DELAY_BIT_PREFIX}{level}"


class Names:
    """Server-side names for one namespace."""

    __slots__ = ("namespace",)

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def queue(self, queue: str) -> str:
        """The work queue that holds ``queue``'s due messages."""
        return f"{self.namespace}.q.{queue}"

    def delay_queue(self, queue: str, level: int) -> str:
        """The queue where ``queue``'s delayed messages wait ``2**level`` ms."""
        return f"{self.namespace}.q.{queue}.delay.{level}"

    def delay_exchange(self, queue: str, level: int) -> str:
        """The exchange routing ``queue``'s delayed messages out of level ``level``."""
        return f"{self.namespace}.x.{queue}.delay.{level}"

    @property
    def dead(self) -> str:
        """The dead-letter queue of the namespace."""
        return f"{self.namespace}.dead"
