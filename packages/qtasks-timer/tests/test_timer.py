"""AsyncTimer on the in-memory components, driven by a ManualClock."""

from __future__ import annotations

from datetime import datetime, timezone

import anyio
import pytest

from qtasks import QueueTasks as SyncQueueTasks
from qtasks.asyncio import QueueTasks
from qtasks.exceptions import ConfigurationError, UnknownTaskError
from qtasks_timer import AsyncTimer, ManualClock, timers_of

from .conftest import START

pytestmark = pytest.mark.anyio

T9 = START + 30  # 09:00:00 UTC


async def ready(app: QueueTasks, queue: str = "default") -> int:
    (stats,) = await app.broker.stats([queue])
    return stats.total_ready


async def test_fires_a_cron_tick_with_its_schedule_and_tick(
    app: QueueTasks, clock: ManualClock
) -> None:
    timer = AsyncTimer(app, clock=clock)
    schedule = timer.add_task("report", "weekly", trigger="0 9 * * mon-fri", to="dev")
    assert await timer.run_pending() == []
    clock.set(T9 + 0.2)
    (task,) = await timer.run_pending()
    stored = await app.get(task.uuid)
    assert stored is not None
    assert (stored.task_name, stored.args, stored.kwargs) == ("report", ("weekly",), {"to": "dev"})
    assert stored.headers == {
        "timer": "default",
        "schedule": schedule.id,
        "tick": "2024-01-15T09:00:00+00:00",
    }
    assert await timer.run_pending() == []  # the same tick never fires twice
    assert await ready(app) == 1


async def test_queue_priority_and_extra_headers_pass_through(
    app: QueueTasks, clock: ManualClock
) -> None:
    timer = AsyncTimer(app, clock=clock)
    timer.add_task("cleanup", trigger=10, headers={"team": "ops"})
    timer.add_task("cleanup", trigger=10, priority=-3, id="urgent-cleanup")
    clock.advance(10)
    fired = {t.headers["schedule"]: t for t in await timer.run_pending()}
    assert fired["urgent-cleanup"].priority == -3
    plain = next(t for k, t in fired.items() if k != "urgent-cleanup")
    assert (plain.queue, plain.priority, plain.headers["team"]) == ("slow", 5, "ops")
    assert await ready(app, "slow") == 2


async def test_timezone_of_a_schedule_is_respected(app: QueueTasks, clock: ManualClock) -> None:
    timer = AsyncTimer(app, clock=clock, timezone="Europe/Paris")
    timer.add_task("report", trigger="0 9 * * *")
    timer.add_task("report", "utc", trigger="0 9 * * *", timezone="UTC")
    clock.set(T9)
    (utc_task,) = await timer.run_pending()
    assert utc_task.args == ("utc",)
    clock.set(T9 + 23 * 3600)  # 08:00 UTC next day = 09:00 in Paris
    (paris_task,) = await timer.run_pending()
    assert paris_task.headers["tick"] == "2024-01-16T09:00:00+01:00"


async def test_missed_ticks_coalesce_into_one(app: QueueTasks, clock: ManualClock) -> None:
    timer = AsyncTimer(app, clock=clock)
    timer.add_task("report", trigger="* * * * *")
    clock.set(T9)
    assert len(await timer.run_pending()) == 1
    clock.advance(10 * 60 + 30)  # ten ticks pass with nobody firing
    (task,) = await timer.run_pending()
    assert task.headers["tick"] == "2024-01-15T09:10:00+00:00"
    assert task.headers["missed"] == 9
    clock.advance(30)
    (task,) = await timer.run_pending()
    assert "missed" not in task.headers


async def test_missed_ticks_skipped(app: QueueTasks, clock: ManualClock) -> None:
    timer = AsyncTimer(app, clock=clock)
    timer.add_task("report", trigger="* * * * *", missed="skip", grace=5)
    clock.set(T9)
    assert len(await timer.run_pending()) == 1
    clock.advance(10 * 60 + 30)
    assert await timer.run_pending() == []
    clock.advance(32)  # 09:11:02, two seconds late: within grace
    (task,) = await timer.run_pending()
    assert task.headers["tick"] == "2024-01-15T09:11:00+00:00"
    (status,) = await timer.status()
    assert status.last_tick == T9 + 11 * 60 and status.last_uuid == task.uuid


async def test_a_one_off_date(app: QueueTasks, clock: ManualClock) -> None:
    timer = AsyncTimer(app, clock=clock)
    when = datetime.fromtimestamp(T9 + 3600, timezone.utc)
    timer.add_task("report", "once", trigger=when)
    clock.set(T9 + 7200)
    assert [t.args for t in await timer.run_pending()] == [("once",)]
    clock.advance(86400)
    assert await timer.run_pending() == []
    (status,) = await timer.status()
    assert status.next_tick is None


async def test_schedules_are_listed_and_removed_at_run_time(
    app: QueueTasks, clock: ManualClock
) -> None:
    timer = AsyncTimer(app, clock=clock)
    keep = timer.add_task("report", trigger=60)
    drop = timer.add_task("cleanup", trigger=60)
    assert [s.id for s in timer.schedules()] == [keep.id, drop.id]
    assert timer.get(drop.id) is drop
    assert timer.remove(drop.id) is True
    assert timer.remove(drop.id) is False
    clock.advance(60)
    assert [t.task_name for t in await timer.run_pending()] == ["report"]
    assert [s.schedule.id for s in await timer.status()] == [keep.id]


async def test_decorators(app: QueueTasks, clock: ManualClock) -> None:
    timer = AsyncTimer(app, clock=clock)

    @timer.cron("0 9 * * mon-fri", args=("monday",), missed="skip")
    @timer.every(30, id="half-minute")
    @app.task
    async def digest(day: str = "any") -> str:
        return day

    assert digest.name == "digest"  # the decorators hand back the registered task
    by_id = {s.id: s for s in timer.schedules()}
    assert by_id["half-minute"].description == "every 30s"
    cron = next(s for k, s in by_id.items() if k != "half-minute")
    assert (cron.args, cron.missed, cron.description) == (
        ("monday",),
        "skip",
        "cron '0 9 * * mon-fri' UTC",
    )
    clock.set(T9)
    assert sorted(t.args for t in await timer.run_pending()) == [(), ("monday",)]

    with pytest.raises(TypeError, match="above @app.task"):

        @timer.cron("* * * * *")
        def plain() -> None: ...


async def test_schedule_ids_are_stable_across_processes(clock: ManualClock) -> None:
    ids = []
    for _ in range(2):  # two "processes" defining the same schedules
        app = QueueTasks("same")
        app.task(name="report")(lambda kind="x": kind)
        timer = AsyncTimer(app, clock=clock)
        ids.append(
            [
                timer.add_task("report", "a", trigger="*/5 * * * *").id,
                timer.add_task("report", "b", trigger="*/5 * * * *").id,
            ]
        )
    assert ids[0] == ids[1]
    assert ids[0][0] != ids[0][1] and ids[0][0].startswith("report-")


async def test_bad_schedules_fail_when_added(app: QueueTasks, clock: ManualClock) -> None:
    timer = AsyncTimer(app, clock=clock)
    with pytest.raises(UnknownTaskError, match="registered tasks are: cleanup, report"):
        timer.add_task("reprot", trigger=60)
    assert timer.add_task("elsewhere", trigger=60, require_registered=False)
    with pytest.raises(ConfigurationError, match="'coalesce' or 'skip'"):
        timer.add_task("report", trigger=60, missed="all")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="grace must be seconds >= 0"):
        timer.add_task("report", trigger=60, grace=-1)
    with pytest.raises(ConfigurationError, match="priority must be an int"):
        timer.add_task("report", trigger=60, priority="high")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="cannot be encoded by"):
        timer.add_task("report", object(), trigger=60)
    timer.add_task("report", trigger=60, id="r")
    with pytest.raises(ConfigurationError, match="already has a schedule 'r'"):
        timer.add_task("report", trigger=120, id="r")
    with pytest.raises(ConfigurationError, match="without ':'"):
        timer.add_task("report", trigger=120, id="a:b")
    with pytest.raises(TypeError, match="given twice"):
        timer.add_task("report", trigger=120, to="a", task_kwargs={"to": "b"})


async def test_timer_construction_checks(app: QueueTasks) -> None:
    with pytest.raises(TypeError, match="use SyncTimer"):
        AsyncTimer(SyncQueueTasks("sync"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="lease_ttl"):
        AsyncTimer(app, lease_ttl=0)
    with pytest.raises(ConfigurationError, match="timer name"):
        AsyncTimer(app, name="a:b")
    first = AsyncTimer(app)
    with pytest.raises(ConfigurationError, match="already has a timer named 'default'"):
        AsyncTimer(app)
    second = AsyncTimer(app, name="other")
    assert timers_of(app) == [first, second]
    assert "other" in repr(second)


async def test_run_forever_sleeps_until_each_tick(app: QueueTasks, clock: ManualClock) -> None:
    timer = AsyncTimer(app, clock=clock)
    timer.add_task("report", trigger="* * * * *")
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run_forever)
        with anyio.fail_after(5):
            while not timer.is_leader:
                await anyio.sleep(0.01)
            for minute in range(1, 4):
                clock.set(T9 + (minute - 1) * 60)
                while await ready(app) < minute:
                    await anyio.sleep(0.01)
        assert timer.running
        # A schedule added while running is picked up without waiting for the next tick.
        timer.add_task("cleanup", trigger=5)
        clock.advance(5)
        with anyio.fail_after(5):
            while await ready(app, "slow") < 1:
                await anyio.sleep(0.01)
        timer.stop()
    assert not timer.running and not timer.is_leader
    assert await timer.lease_holder() is None  # released on the way out
    assert await ready(app) == 3


async def test_run_forever_refuses_to_run_twice(app: QueueTasks, clock: ManualClock) -> None:
    timer = AsyncTimer(app, clock=clock)
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run_forever)
        await anyio.sleep(0.05)
        with pytest.raises(RuntimeError, match="already running"):
            await timer.run_forever()
        group.cancel_scope.cancel()
