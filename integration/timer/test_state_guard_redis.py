"""Two timers that both believe they lead (split brain) still fire each tick once on Redis:
the compare-and-set on the schedule's shared state decides, with real round trips
interleaving."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import anyio
import pytest

from qtasks.asyncio import QueueTasks
from qtasks_timer import AsyncTimer, ManualClock

from ..conftest import delete_redis_keys

pytest.importorskip("qtasks_redis")

pytestmark = pytest.mark.anyio


@pytest.fixture
async def apps(redis_url: str) -> AsyncIterator[list[QueueTasks]]:
    name = f"timer-guard-{uuid.uuid4().hex[:10]}"
    made = [QueueTasks(name, broker=redis_url) for _ in range(2)]
    for app in made:
        app.task(name="beat")(lambda: None)
    yield made
    for app in made:
        await app.stop()
    delete_redis_keys(redis_url, name)


async def test_split_brain_fires_each_tick_once(apps: list[QueueTasks]) -> None:
    clock = ManualClock(1_700_000_000.0)
    timers = []
    for app in apps:
        await app.start()
        timer = AsyncTimer(app, clock=clock)
        timer.add_task("beat", trigger="* * * * * *", id="beat")
        timer._lease.held = True  # both think they hold the lease
        timer._lease.until = float("inf")
        timers.append(timer)
    fired: list[str] = []
    for _ in range(20):
        clock.advance(1)

        async def fire(timer: AsyncTimer) -> None:
            for _attempt in range(3):  # a loser re-reads the state and finds nothing due
                fired.extend(t.headers["tick"] for t in (await timer._fire_due())[0])

        async with anyio.create_task_group() as group:
            for timer in timers:
                group.start_soon(fire, timer)
    assert len(fired) == 20
    assert len(set(fired)) == 20
    (stats,) = await apps[0].broker.stats(["default"])
    assert stats.total_ready == 20
