"""The missed-tick rule, on plain numbers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from qtasks_timer._triggers import make_trigger
from qtasks_timer.schedule import MAX_BACKLOG, Schedule, plan_ticks

UTC = timezone.utc
T0 = 1705309200.0  # 2024-01-15 09:00:00 UTC, a whole minute


def every_minute(missed: str = "coalesce", grace: float = 1.0) -> Schedule:
    trigger = make_trigger("* * * * *", UTC, T0, where="x")
    return Schedule(
        id="m", task_name="t", trigger=trigger, description="", missed=missed, grace=grace
    )  # type: ignore[arg-type]


def test_a_new_schedule_waits_for_its_first_tick() -> None:
    plan = plan_ticks(every_minute(), None, since=T0 + 10, now=T0 + 30)
    assert plan.fire is None and plan.handled is None
    assert plan.next == T0 + 60


def test_an_on_time_tick_fires() -> None:
    plan = plan_ticks(every_minute(), T0, since=T0 - 600, now=T0 + 60.2)
    assert (plan.fire, plan.missed, plan.handled, plan.next) == (T0 + 60, 0, T0 + 60, T0 + 120)


def test_ticks_between_first_sight_and_first_fire_count() -> None:
    plan = plan_ticks(every_minute(), None, since=T0 + 1, now=T0 + 180.5)
    assert (plan.fire, plan.missed) == (T0 + 180, 2)


@pytest.mark.parametrize("missed", ["coalesce", "skip"])
def test_a_backlog_with_an_on_time_last_tick(missed: str) -> None:
    # Ten minutes down, back just after a tick: both policies fire that tick once.
    plan = plan_ticks(every_minute(missed), T0, since=T0, now=T0 + 600.5)
    assert (plan.fire, plan.missed, plan.handled) == (T0 + 600, 9, T0 + 600)


def test_coalesce_fires_a_late_backlog_once() -> None:
    plan = plan_ticks(every_minute("coalesce"), T0, since=T0, now=T0 + 630)
    assert (plan.fire, plan.missed, plan.handled, plan.next) == (T0 + 600, 9, T0 + 600, T0 + 660)


def test_skip_drops_a_late_backlog() -> None:
    plan = plan_ticks(every_minute("skip"), T0, since=T0, now=T0 + 630)
    assert (plan.fire, plan.missed, plan.handled, plan.next) == (None, 10, T0 + 600, T0 + 660)


def test_grace_decides_what_is_late() -> None:
    assert plan_ticks(every_minute("skip", grace=45), T0, since=T0, now=T0 + 100).fire == T0 + 60
    assert plan_ticks(every_minute("skip", grace=30), T0, since=T0, now=T0 + 100).fire is None


def test_a_clock_stepped_back_never_repeats_a_tick() -> None:
    plan = plan_ticks(every_minute(), T0 + 60, since=T0, now=T0 + 30)
    assert plan.handled is None and plan.next == T0 + 120


def test_a_one_off_date_fires_once_then_is_done() -> None:
    when = datetime.fromtimestamp(T0 + 90, UTC)
    schedule = Schedule(
        id="d", task_name="t", trigger=make_trigger(when, UTC, T0, where="x"), description=""
    )
    assert plan_ticks(schedule, None, since=T0, now=T0 + 10).next == T0 + 90
    fired = plan_ticks(schedule, None, since=T0, now=T0 + 90)
    assert (fired.fire, fired.next) == (T0 + 90, None)
    assert plan_ticks(schedule, T0 + 90, since=T0, now=T0 + 9999) == plan_ticks(
        schedule, T0 + 90, since=T0, now=T0 + 99999
    )
    assert plan_ticks(schedule, T0 + 90, since=T0, now=T0 + 9999).fire is None


def test_a_backlog_too_long_to_list_is_jumped() -> None:
    trigger = make_trigger("* * * * * *", UTC, T0, where="x")  # every second
    schedule = Schedule(id="s", task_name="t", trigger=trigger, description="")
    now = T0 + 3 * MAX_BACKLOG + 0.5
    plan = plan_ticks(schedule, T0, since=T0, now=now)
    assert plan.missed == MAX_BACKLOG - 1
    assert plan.fire == T0 + MAX_BACKLOG
    assert plan.handled == now
    assert plan.next == T0 + 3 * MAX_BACKLOG + 1
