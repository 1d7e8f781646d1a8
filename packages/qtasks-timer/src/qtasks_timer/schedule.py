"""Schedules as data, and the rule that decides which ticks fire.

A ``Schedule`` says what to queue (task name, arguments, queue options) and when (a trigger),
plus what to do about ticks that passed while no timer was running (``missed``). Its state,
the last tick handled, lives in the app's global config so that every process running the
same timer agrees on it.

The missed-tick rule, applied each time the firing process looks at a schedule:

* the ticks due since the last one handled are listed (``t0 < t1 < ... < tk <= now``);
* ``tk`` is *on time* when it is at most ``grace`` seconds old; every other due tick is missed;
* ``missed="coalesce"`` (the default) fires once, for ``tk``, whatever its age, and records in
  the task's ``missed`` header how many earlier ticks it stands for;
* ``missed="skip"`` fires ``tk`` only if it is on time and drops the missed ones (logged).

Either way the schedule then continues from ``tk``: a timer never fires a backlog one by one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from apscheduler.triggers.base import BaseTrigger

from qtasks.exceptions import ConfigurationError
from qtasks_timer._triggers import trigger_tz

__all__ = ["MISSED_POLICIES", "MissedPolicy", "Plan", "Schedule", "ScheduleStatus", "plan_ticks"]

MissedPolicy = Literal["coalesce", "skip"]
MISSED_POLICIES: tuple[MissedPolicy, ...] = ("coalesce", "skip")

#: Ticks listed at most per look (about 0.1 s of work); a longer backlog is jumped over,
#: and its fire reports this many missed ticks as a lower bound.
MAX_BACKLOG = 10_000


@dataclass(frozen=True)
class Schedule:
    """One recurring (or one-off) task: what to queue, when, and how to treat missed ticks.

    ``id`` is stable across processes and restarts (given, or derived from the task name,
    trigger and arguments), because the shared state is keyed by it. ``description`` is the
    trigger in words, for listings.
    """

    id: str
    task_name: str
    trigger: BaseTrigger
    description: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    missed: MissedPolicy = "coalesce"
    grace: float = 1.0
    priority: int | None = None
    queue: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"schedule {self.id!r}"
        if not isinstance(self.id, str) or not self.id or ":" in self.id:
            raise ConfigurationError(f"{where}: the id must be a non-empty string without ':'")
        if self.missed not in MISSED_POLICIES:
            raise ConfigurationError(
                f"{where}: missed must be 'coalesce' or 'skip', {self.missed!r}"
            )
        grace: Any = self.grace
        if isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0:
            raise ConfigurationError(f"{where}: grace must be seconds >= 0, got {grace!r}")
        priority: Any = self.priority
        if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
            raise ConfigurationError(f"{where}: priority must be an int, got {priority!r}")

    def next_tick(self, after: float | None, now: float) -> float | None:
        """The first tick after ``after`` (or, with ``None``, at or after ``now``)."""
        tz = trigger_tz(self.trigger)
        now_dt = datetime.fromtimestamp(now, tz)
        previous = None if after is None else datetime.fromtimestamp(after, tz)
        upcoming: datetime | None = self.trigger.get_next_fire_time(previous, now_dt)
        return None if upcoming is None else upcoming.timestamp()

    def tick_label(self, tick: float) -> str:
        """The tick as ISO 8601 in the trigger's timezone (offset included)."""
        return datetime.fromtimestamp(tick, trigger_tz(self.trigger)).isoformat()

    def as_dict(self) -> dict[str, Any]:
        """Plain data for listings (``qtasks timer list --json``)."""
        return {
            "id": self.id,
            "task": self.task_name,
            "trigger": self.description,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "missed": self.missed,
            "grace": self.grace,
            "priority": self.priority,
            "queue": self.queue,
        }


def schedule_id(task_name: str, description: str, args: Any, kwargs: Any) -> str:
    """``<task>-<8 hex>``: the same definition gives the same id in every process."""
    material = json.dumps([task_name, description, args, kwargs], sort_keys=True, default=repr)
    digest = hashlib.sha256(material.encode()).hexdigest()[:8]
    return f"{task_name}-{digest}"


@dataclass(frozen=True)
class ScheduleStatus:
    """A schedule with its shared state: what ``qtasks ... timer list`` shows.

    ``next_tick`` is the tick the leader fires next (possibly already due); ``None`` once a
    schedule has nothing left to fire. Ticks are epoch seconds.
    """

    schedule: Schedule
    last_tick: float | None
    next_tick: float | None
    last_uuid: str | None
    fired_by: str | None


@dataclass(frozen=True)
class Plan:
    """What to do with one schedule now.

    ``fire``: the tick to fire, or ``None``. ``missed``: ticks that will not fire on their own
    (folded into ``fire`` under coalesce, dropped under skip). ``handled``: the new last tick
    to record (``None`` if nothing was due). ``next``: the next tick after that, ``None`` once a
    schedule is exhausted (a one-off date that has fired).
    """

    fire: float | None
    missed: int
    handled: float | None
    next: float | None


def plan_ticks(schedule: Schedule, last: float | None, since: float, now: float) -> Plan:
    """Apply the module's missed-tick rule to ``schedule`` at ``now``.

    ``last`` is the last tick handled (``None`` if it never fired); ``since`` is when the
    schedule was first seen, so ticks between then and its first firing count as missed too.
    """
    if last is None:
        upcoming = schedule.next_tick(None, since)
    else:
        # max(): a wall clock stepped back must not bring back a tick already handled.
        upcoming = schedule.next_tick(last, max(now, last))
    due: list[float] = []
    while upcoming is not None and upcoming <= now and len(due) < MAX_BACKLOG:
        due.append(upcoming)
        upcoming = schedule.next_tick(upcoming, now)
    if not due:
        return Plan(fire=None, missed=0, handled=None, next=upcoming)
    latest = handled = due[-1]
    if upcoming is not None and upcoming <= now:
        # A backlog too long to list (a frequent schedule after a long outage): treat
        # everything up to now as handled and carry on from the first tick after it.
        handled = now
        upcoming = schedule.next_tick(None, now + 1e-6)
    earlier = len(due) - 1
    if schedule.missed == "coalesce" or now - latest <= schedule.grace:
        return Plan(fire=latest, missed=earlier, handled=handled, next=upcoming)
    return Plan(fire=None, missed=len(due), handled=handled, next=upcoming)
