"""A task message on its way into a topic, and what the headers of a consumed record say.

The body is the app's serialized message and is never decoded here: everything the broker
needs to route a record (its uuid, priority, due time, earlier deliveries) travels in headers,
so a record whose body cannot be decoded still reaches the dead-letter topic intact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from qtasks_kafka._names import (
    H_DELIVERIES,
    H_ETA,
    H_PRIORITY,
    H_QUEUE,
    H_RELEASE,
    H_UUID,
)

__all__ = ["Envelope", "RecordInfo", "read_headers"]

Headers = list[tuple[str, bytes]]


@dataclass(slots=True)
class Envelope:
    """One record to produce: where it belongs and how it got there."""

    queue: str
    body: bytes
    key: bytes | None
    uuid: str
    priority: int
    #: Deliveries of earlier copies (a nack writes a new copy of a delivered record).
    deliveries: int = 0
    #: Epoch seconds when due; ``None`` (or a past time) means ready now.
    eta: float | None = None

    def headers(self, release: float | None = None) -> Headers:
        """Headers for a ready topic, or for a delay topic when ``release`` is given."""
        out: Headers = [(H_PRIORITY, str(self.priority).encode())]
        if self.uuid:
            out.append((H_UUID, self.uuid.encode()))
        if self.deliveries:
            out.append((H_DELIVERIES, str(self.deliveries).encode()))
        if release is not None and self.eta is not None:
            out.append((H_ETA, repr(self.eta).encode()))
            out.append((H_RELEASE, repr(release).encode()))
        return out


@dataclass(slots=True)
class RecordInfo:
    """What the headers of a consumed record say (defaults for anything missing or garbled)."""

    uuid: str | None = None
    priority: int = 0
    deliveries: int = 0
    eta: float | None = None
    release: float | None = None
    queue: str | None = None


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None


def _int(value: bytes | None, default: int) -> int:
    text = _text(value)
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _float(value: bytes | None) -> float | None:
    text = _text(value)
    try:
        number = float(text) if text is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def read_headers(headers: Sequence[tuple[str, bytes]] | None) -> RecordInfo:
    """Parse the qtasks headers of a record; unknown headers are ignored."""
    found = dict(headers or ())
    return RecordInfo(
        uuid=_text(found.get(H_UUID)) or None,
        priority=_int(found.get(H_PRIORITY), 0),
        deliveries=max(0, _int(found.get(H_DELIVERIES), 0)),
        eta=_float(found.get(H_ETA)),
        release=_float(found.get(H_RELEASE)),
        queue=_text(found.get(H_QUEUE)),
    )
