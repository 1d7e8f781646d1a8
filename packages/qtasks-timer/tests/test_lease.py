"""Several timers sharing one global config, as several processes share Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio
import pytest

from qtasks.asyncio import QueueTasks
from qtasks.memory import MemoryBroker, MemoryGlobalConfig, MemoryStorage
from qtasks_timer import AsyncTimer, ManualClock

from .conftest import START

pytestmark = pytest.mark.anyio


@pytest.fixture
async def apps() -> AsyncIterator[list[QueueTasks]]:
    """Three apps of one name over shared components: three "processes" of one service."""
    name = f"lease-{uuid.uuid4().hex[:8]}"
    broker, storage, config = MemoryBroker(), MemoryStorage(), MemoryGlobalConfig()
    made = []
    for _ in range(3):
        app = QueueTasks(name, broker=broker, storage=storage, global_config=config)
        app.task(name="beat")(lambda: None)
        made.append(app)
    yield made
    for app in made:
        await app.stop()


async def queued(app: QueueTasks) -> int:
    (stats,) = await app.broker.stats(["default"])
    return stats.total_ready


def timers(apps: list[QueueTasks], clock: ManualClock, ttl: float = 10.0) -> list[AsyncTimer]:
    made = []
    for app in apps:
        timer = AsyncTimer(app, clock=clock, lease_ttl=ttl)
        timer.add_task("beat", trigger="* * * * * *")  # every second
        made.append(timer)
    return made


async def test_only_the_lease_holder_fires(apps: list[QueueTasks]) -> None:
    clock = ManualClock(START)
    first, second, third = timers(apps, clock)
    clock.advance(1)
    assert len(await first.run_pending()) == 1
    assert await second.run_pending() == [] and await third.run_pending() == []
    assert first.is_leader and not second.is_leader
    assert await second.lease_holder() == first.owner


async def test_the_shared_state_stops_a_double_fire_even_with_two_leaders(
    apps: list[QueueTasks],
) -> None:
    # Two processes both believe they lead (one was paused past its lease): the
    # compare-and-set on the schedule's state lets exactly one of them fire each tick.
    clock = ManualClock(START)
    first, second, _ = timers(apps, clock)
    for timer in (first, second):
        timer._lease.held = True
        timer._lease.until = float("inf")
    for _ in range(5):
        clock.advance(1)
        fired: list[object] = []
        async with anyio.create_task_group() as group:
            for timer in (first, second):

                async def fire(timer: AsyncTimer = timer, into: list[object] = fired) -> None:
                    into.extend((await timer._fire_due())[0])

                group.start_soon(fire)
        assert len(fired) <= 1
        if not fired:  # the loser read stale state; its next round sees the truth
            for timer in (first, second):
                fired.extend((await timer._fire_due())[0])
        assert len(fired) == 1
    assert await queued(apps[0]) == 5


async def test_a_dead_holder_is_replaced_after_its_lease_expires(apps: list[QueueTasks]) -> None:
    clock = ManualClock(START)
    dead, standby, _ = timers(apps, clock, ttl=0.3)
    clock.advance(1)
    assert len(await dead.run_pending()) == 1  # takes the lease, then "crashes"
    clock.advance(1)
    assert await standby.run_pending() == []
    await anyio.sleep(0.35)  # real time: the lease's TTL runs in the global config
    (task,) = await standby.run_pending()
    assert task.headers["tick"] == "2024-01-15T08:59:32+00:00"  # nothing lost, nothing twice
    assert await standby.lease_holder() == standby.owner


async def test_run_forever_processes_fire_each_tick_once_and_hand_over(
    apps: list[QueueTasks],
) -> None:
    clock = ManualClock(START)
    group_timers = timers(apps, clock, ttl=1.0)

    async def tick_through(ticks: range) -> None:
        for tick in ticks:
            clock.advance(1)
            while await queued(apps[0]) < tick:
                await anyio.sleep(0.01)

    async with anyio.create_task_group() as group:
        for timer in group_timers:
            group.start_soon(timer.run_forever)
        with anyio.fail_after(10):
            while not any(t.is_leader for t in group_timers):
                await anyio.sleep(0.01)
            await tick_through(range(1, 6))
            await anyio.sleep(0.1)
            assert await queued(apps[0]) == 5
            leader = next(t for t in group_timers if t.is_leader)
            leader.stop()  # a clean stop releases the lease: another takes over at once
            while not any(t.is_leader for t in group_timers if t is not leader):
                await anyio.sleep(0.01)
            await tick_through(range(6, 9))
        await anyio.sleep(0.1)
        assert await queued(apps[0]) == 8
        assert sum(t.is_leader for t in group_timers) == 1
        group.cancel_scope.cancel()
