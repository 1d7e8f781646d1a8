"""The shared state of one schedule, as stored in the app's global config.

Every write is a compare-and-set from the value last read, so two processes that both believe
they hold the lease (one of them paused past its expiry) still cannot fire the same tick
twice. Values are built here only, always with the same keys in the same order, so a value
read back compares equal to the one written on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ScheduleState", "state_key"]


def state_key(timer: str, schedule_id: str) -> str:
    """``timer:<timer>:schedule:<id>``."""
    return f"timer:{timer}:schedule:{schedule_id}"


@dataclass(frozen=True)
class ScheduleState:
    """``last``: the last tick handled (fired, coalesced or skipped); ``since``: first seen.

    ``uuid`` is the task the last fire queued and ``by`` the timer process that queued it.
    """

    since: float
    last: float | None = None
    uuid: str | None = None
    by: str | None = None

    def to_value(self) -> dict[str, Any]:
        """The stored form."""
        return {"since": self.since, "last": self.last, "uuid": self.uuid, "by": self.by}

    @classmethod
    def from_value(cls, value: Any) -> ScheduleState | None:
        """Read a stored value; ``None`` for anything that is not one (it is then replaced)."""
        if not isinstance(value, dict):
            return None
        try:
            since = float(value["since"])
            last = value.get("last")
            return cls(
                since=since,
                last=None if last is None else float(last),
                uuid=value.get("uuid"),
                by=value.get("by"),
            )
        except (KeyError, TypeError, ValueError):
            return None
