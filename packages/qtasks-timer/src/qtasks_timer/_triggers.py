"""Turning what a user writes (a cron string, seconds, a date) into an APScheduler trigger.

APScheduler 3.x is used for its triggers only: they answer "when is the next tick after this
one", which is all a timer needs. Scheduling, leases and missed ticks are ours, because they
have to work across processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from qtasks.exceptions import ConfigurationError

__all__ = ["TriggerSpec", "describe_trigger", "make_trigger", "resolve_timezone", "trigger_tz"]

#: Everything ``trigger=`` accepts.
TriggerSpec = str | int | float | timedelta | datetime | BaseTrigger

#: Cron fields in the order a 6-field expression lists them (seconds first).
_SIX_FIELDS = ("second", "minute", "hour", "day", "month", "day_of_week")


def resolve_timezone(value: str | tzinfo | None, default: tzinfo) -> tzinfo:
    """An IANA name (``"Europe/Paris"``) or a tzinfo; ``None`` means ``default``."""
    if value is None:
        return default
    if isinstance(value, tzinfo):
        return value
    if isinstance(value, str):
        if value.upper() == "UTC":
            return timezone.utc
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"unknown timezone {value!r}; use an IANA name such as 'Europe/Paris' or 'UTC'"
            ) from None
    raise ConfigurationError(f"timezone must be a name or a tzinfo, got {value!r}")


def make_trigger(spec: Any, tz: tzinfo, now: float, *, where: str) -> BaseTrigger:
    """Build the trigger for ``spec``; ``where`` names the schedule in error messages.

    ``now`` anchors intervals: an interval of 60 s added at ``now`` first ticks at ``now + 60``.
    """
    if isinstance(spec, BaseTrigger):
        return spec
    if isinstance(spec, str):
        return _cron(spec, tz, where)
    if isinstance(spec, bool):
        raise ConfigurationError(f"{where}: trigger must not be a bool")
    if isinstance(spec, (int, float, timedelta)):
        seconds = spec.total_seconds() if isinstance(spec, timedelta) else float(spec)
        if not seconds > 0:
            raise ConfigurationError(
                f"{where}: an interval must be more than 0 seconds, got {spec!r}"
            )
        start = datetime.fromtimestamp(now + seconds, tz)
        return IntervalTrigger(seconds=seconds, start_date=start, timezone=tz)
    if isinstance(spec, datetime):
        when = spec if spec.tzinfo is not None else spec.replace(tzinfo=tz)
        return DateTrigger(run_date=when, timezone=tz)
    raise ConfigurationError(
        f"{where}: trigger must be a cron string, seconds, a timedelta, a datetime or an "
        f"APScheduler trigger, got {type(spec).__name__}"
    )


def _cron(expression: str, tz: tzinfo, where: str) -> BaseTrigger:
    fields = expression.split()
    try:
        if len(fields) == 5:
            return CronTrigger.from_crontab(expression, timezone=tz)
        if len(fields) == 6:
            return CronTrigger(timezone=tz, **dict(zip(_SIX_FIELDS, fields, strict=True)))
    except ValueError as exc:
        raise ConfigurationError(f"{where}: bad cron expression {expression!r}: {exc}") from None
    raise ConfigurationError(
        f"{where}: a cron expression has 5 fields (minute hour day month weekday) or 6 "
        f"(second first), got {len(fields)} in {expression!r}"
    )


def trigger_tz(trigger: BaseTrigger) -> tzinfo:
    """The timezone a trigger computes in (UTC for custom triggers that have none)."""
    tz = getattr(trigger, "timezone", None)
    if tz is None:  # a DateTrigger keeps its zone on its run date
        tz = getattr(getattr(trigger, "run_date", None), "tzinfo", None)
    return tz if isinstance(tz, tzinfo) else timezone.utc


def describe_trigger(spec: Any, trigger: BaseTrigger) -> str:
    """A short, stable text for listings and schedule ids (``cron '*/5 * * * *' UTC``)."""
    tz = trigger_tz(trigger)
    zone = getattr(tz, "key", None) or str(tz)
    if isinstance(spec, str):
        return f"cron '{' '.join(spec.split())}' {zone}"
    if isinstance(spec, (int, float, timedelta)) and not isinstance(spec, bool):
        seconds = spec.total_seconds() if isinstance(spec, timedelta) else float(spec)
        return f"every {seconds:g}s"
    if isinstance(spec, datetime):
        return f"once at {spec.isoformat()}"
    return f"{trigger} {zone}"
