from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from qtasks.exceptions import ConfigurationError
from qtasks_timer._triggers import describe_trigger, make_trigger, resolve_timezone
from qtasks_timer.schedule import Schedule

NOW = 1705309170.0  # 2024-01-15 08:59:30 UTC
UTC = timezone.utc


def ticks(trigger: object, count: int, now: float = NOW) -> list[str]:
    schedule = Schedule(id="s", task_name="t", trigger=trigger, description="")
    out: list[str] = []
    tick = schedule.next_tick(None, now)
    while tick is not None and len(out) < count:
        out.append(schedule.tick_label(tick))
        tick = schedule.next_tick(tick, tick)
    return out


def test_five_field_cron_in_utc() -> None:
    trigger = make_trigger("*/15 9 * * mon-fri", UTC, NOW, where="x")
    assert isinstance(trigger, CronTrigger)
    assert ticks(trigger, 3) == [
        "2024-01-15T09:00:00+00:00",
        "2024-01-15T09:15:00+00:00",
        "2024-01-15T09:30:00+00:00",
    ]


def test_six_field_cron_has_seconds_first() -> None:
    trigger = make_trigger("*/20 * * * * *", UTC, NOW, where="x")
    assert ticks(trigger, 3) == [
        "2024-01-15T08:59:40+00:00",
        "2024-01-15T09:00:00+00:00",
        "2024-01-15T09:00:20+00:00",
    ]


def test_cron_respects_its_timezone() -> None:
    paris = ZoneInfo("Europe/Paris")
    trigger = make_trigger("0 9 * * *", paris, NOW, where="x")
    # 08:59:30 UTC is 09:59:30 in Paris: the next 09:00 there is tomorrow, 08:00 UTC.
    assert ticks(trigger, 1) == ["2024-01-16T09:00:00+01:00"]
    summer = datetime(2024, 7, 1, tzinfo=UTC).timestamp()
    assert ticks(trigger, 1, summer) == ["2024-07-01T09:00:00+02:00"]


@pytest.mark.parametrize("spec", [90, 90.0, timedelta(seconds=90)])
def test_intervals_start_one_interval_after_now(spec: object) -> None:
    trigger = make_trigger(spec, UTC, NOW, where="x")
    assert isinstance(trigger, IntervalTrigger)
    assert ticks(trigger, 2) == ["2024-01-15T09:01:00+00:00", "2024-01-15T09:02:30+00:00"]


def test_naive_datetime_takes_the_schedule_timezone() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    trigger = make_trigger(datetime(2024, 1, 16, 9, 0), tokyo, NOW, where="x")
    assert isinstance(trigger, DateTrigger)
    assert ticks(trigger, 5) == ["2024-01-16T09:00:00+09:00"]


def test_aware_datetime_keeps_its_instant() -> None:
    when = datetime(2024, 1, 16, 9, 0, tzinfo=UTC)
    trigger = make_trigger(when, ZoneInfo("Europe/Paris"), NOW, where="x")
    schedule = Schedule(id="s", task_name="t", trigger=trigger, description="")
    assert schedule.next_tick(None, NOW) == when.timestamp()


def test_trigger_objects_pass_through() -> None:
    own = CronTrigger(hour=3, timezone="UTC")
    assert make_trigger(own, UTC, NOW, where="x") is own


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("* * *", "5 fields"),
        ("61 * * * *", "bad cron expression"),
        (0, "more than 0 seconds"),
        (-5.0, "more than 0 seconds"),
        (True, "must not be a bool"),
        ([1, 2], "got list"),
    ],
)
def test_bad_triggers_name_the_schedule(spec: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        make_trigger(spec, UTC, NOW, where="schedule 'nightly'")
    assert "schedule 'nightly'" in str(info.value)


def test_timezone_names() -> None:
    assert resolve_timezone(None, UTC) is UTC
    assert resolve_timezone("utc", ZoneInfo("Europe/Paris")) is UTC
    assert resolve_timezone("Europe/Paris", UTC) == ZoneInfo("Europe/Paris")
    with pytest.raises(ConfigurationError, match="unknown timezone 'Mars/Olympus'"):
        resolve_timezone("Mars/Olympus", UTC)
    with pytest.raises(ConfigurationError, match="name or a tzinfo"):
        resolve_timezone(3, UTC)  # type: ignore[arg-type]


def test_descriptions_are_short_and_stable() -> None:
    paris = ZoneInfo("Europe/Paris")
    cron = make_trigger("0  9 * * *", paris, NOW, where="x")
    assert describe_trigger("0  9 * * *", cron) == "cron '0 9 * * *' Europe/Paris"
    assert describe_trigger(30, make_trigger(30, UTC, NOW, where="x")) == "every 30s"
    when = datetime(2024, 1, 16, tzinfo=UTC)
    assert describe_trigger(when, make_trigger(when, UTC, NOW, where="x")).startswith("once at")
    own = CronTrigger(hour=3, timezone="UTC")
    assert describe_trigger(own, own) == "cron[hour='3'] UTC"
