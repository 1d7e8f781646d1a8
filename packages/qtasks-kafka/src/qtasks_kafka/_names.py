"""Every name this backend puts on the wire: topics, consumer groups and record headers.

Topics of an app share the prefix ``qtasks.<app>.``; queue and app names are escaped so the
dot stays a pure separator and every name is a legal Kafka topic (``[A-Za-z0-9._-]``, at most
249 characters)::

    qtasks.<app>.<queue>                 ready tasks (priority band 0)
    qtasks.<app>.<queue>.band-<i>        ready tasks of priority band i > 0
    qtasks.<app>.<queue>.delay-<T>s      tasks waiting out (a step of) their delay
    qtasks.<app>.<queue>.dead            dead letters, one partition, reason in a header

Consumer groups: ``qtasks.<app>`` (workers), ``qtasks.<app>.delays`` (delay forwarders) and
offset stores that no consumer ever joins (``.seen-<n>``, ``.purged``, ``.requeued``): Kafka
keeps a committed offset per group and partition, which is all the state this backend needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qtasks.exceptions import ConfigurationError

__all__ = [
    "H_DEAD_AT",
    "H_DELIVERIES",
    "H_ETA",
    "H_ORIGIN",
    "H_PRIORITY",
    "H_QUEUE",
    "H_REASON",
    "H_RELEASE",
    "H_UUID",
    "MAX_TOPIC_LENGTH",
    "Names",
    "escape",
    "unescape",
]

#: Header names. Values are UTF-8 text.
H_UUID = "qtasks-uuid"
H_PRIORITY = "qtasks-priority"
H_QUEUE = "qtasks-queue"
#: Deliveries of earlier copies of this message (a nack writes a new copy); absent means 0.
H_DELIVERIES = "qtasks-deliveries"
#: Epoch seconds at which a delayed message is due.
H_ETA = "qtasks-eta"
#: Epoch seconds at which a delayed message leaves the delay topic it is in.
H_RELEASE = "qtasks-release"
H_REASON = "qtasks-reason"
H_DEAD_AT = "qtasks-dead-at"
#: ``topic/partition/offset`` of the record a dead letter was made from.
H_ORIGIN = "qtasks-origin"

MAX_TOPIC_LENGTH = 249
_SAFE = re.compile(r"[A-Za-z0-9-]")


def escape(name: str) -> str:
    """Make ``name`` a dot-free piece of a topic name; reversible with ``unescape``."""
    out = []
    for char in name:
        if _SAFE.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"_{byte:02x}" for byte in char.encode())
    return "".join(out)


def unescape(piece: str) -> str:
    """Invert ``escape``."""
    data = bytearray()
    index = 0
    while index < len(piece):
        char = piece[index]
        if char == "_":
            data.append(int(piece[index + 1 : index + 3], 16))
            index += 3
        else:
            data.extend(char.encode())
            index += 1
    return data.decode()


@dataclass(frozen=True)
class Names:
    """Topic and group names of one app (its namespace)."""

    namespace: str

    @property
    def prefix(self) -> str:
        """What every topic of this app starts with."""
        return f"qtasks.{escape(self.namespace)}."

    def _topic(self, queue: str, suffix: str = "") -> str:
        topic = f"{self.prefix}{escape(queue)}{suffix}"
        if len(topic) > MAX_TOPIC_LENGTH:
            raise ConfigurationError(
                f"queue {queue!r} of app {self.namespace!r} makes the Kafka topic name "
                f"{topic[:60]}... {len(topic)} characters long (Kafka allows "
                f"{MAX_TOPIC_LENGTH}); use a shorter app or queue name"
            )
        return topic

    def ready(self, queue: str, band: int = 0) -> str:
        """The topic of ready tasks of ``queue`` in priority ``band``."""
        return self._topic(queue, f".band-{band}" if band else "")

    def delay(self, queue: str, step: int) -> str:
        """The delay topic of ``queue`` for a step of ``step`` seconds."""
        return self._topic(queue, f".delay-{step}s")

    def dead(self, queue: str) -> str:
        """The dead-letter topic of ``queue``."""
        return self._topic(queue, ".dead")

    def dead_queue(self, topic: str) -> str | None:
        """The queue a dead-letter topic belongs to, or ``None`` for other topics."""
        if not topic.startswith(self.prefix) or not topic.endswith(".dead"):
            return None
        piece = topic[len(self.prefix) : -len(".dead")]
        return None if "." in piece else unescape(piece)

    @property
    def group(self) -> str:
        """The consumer group of the app's workers."""
        return f"qtasks.{escape(self.namespace)}"

    @property
    def delay_group(self) -> str:
        """The consumer group that moves delayed tasks along."""
        return f"{self.group}.delays"

    def seen_group(self, level: int) -> str:
        """Offset store: per partition, the end of the records delivered ``level`` times."""
        return f"{self.group}.seen-{level}"

    @property
    def purged_group(self) -> str:
        """Offset store: per partition, the offset below which records were purged."""
        return f"{self.group}.purged"

    @property
    def requeued_group(self) -> str:
        """Offset store: per dead-letter topic, the offset below which letters were requeued."""
        return f"{self.group}.requeued"
