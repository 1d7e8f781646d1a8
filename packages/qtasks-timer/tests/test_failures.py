"""What a timer does when the broker or the global config misbehaves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from qtasks.asyncio import QueueTasks
from qtasks.interfaces.broker import OutgoingMessage
from qtasks.memory import MemoryBroker, MemoryGlobalConfig
from qtasks_timer import AsyncTimer, ManualClock
from qtasks_timer._state import state_key

from .conftest import START

pytestmark = pytest.mark.anyio


class FlakyBroker(MemoryBroker):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker down")
        await super().send(messages)


class FlakyConfig(MemoryGlobalConfig):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def compare_and_set(
        self, key: str, expected: Any | None, value: Any, *, ttl: float | None = None
    ) -> bool:
        if self.failures and key.startswith("timer:"):
            self.failures -= 1
            raise ConnectionError("config down")
        return await super().compare_and_set(key, expected, value, ttl=ttl)


def make_app(**components: Any) -> QueueTasks:
    app = QueueTasks(f"fail-{uuid.uuid4().hex[:8]}", **components)
    app.task(name="job")(lambda: None)
    return app


async def test_a_failed_enqueue_is_rolled_back_and_retried() -> None:
    broker = FlakyBroker(failures=1)
    app = make_app(broker=broker)
    clock = ManualClock(START)
    timer = AsyncTimer(app, clock=clock)
    schedule = timer.add_task("job", trigger=10)
    clock.advance(10)
    assert await timer.run_pending() == []  # the broker refused: nothing claimed
    (status,) = await timer.status()
    assert status.last_tick is None
    (task,) = await timer.run_pending()  # the same tick, once the broker is back
    assert task.headers["tick"] == schedule.tick_label(START + 10)
    assert await timer.run_pending() == []
    await app.stop()


async def test_unreadable_state_is_replaced() -> None:
    app = make_app()
    clock = ManualClock(START)
    timer = AsyncTimer(app, clock=clock)
    schedule = timer.add_task("job", trigger=10, id="job")
    await app.start()
    await app.global_config.set(state_key("default", "job"), "garbage")
    clock.advance(10)
    assert await timer.run_pending() == []
    stored = await app.global_config.get(state_key("default", "job"))
    assert isinstance(stored, dict) and stored["last"] is None
    clock.advance(10)
    (task,) = await timer.run_pending()
    assert task.headers["schedule"] == schedule.id
    await app.stop()


async def test_run_forever_rides_out_a_global_config_outage() -> None:
    config = FlakyConfig()
    app = make_app(global_config=config)
    clock = ManualClock(START)
    timer = AsyncTimer(app, clock=clock)
    timer.add_task("job", trigger=10)
    config.failures = 3
    async with anyio.create_task_group() as group:
        group.start_soon(timer.run_forever)
        clock.advance(10)
        with anyio.fail_after(10):
            while True:
                (stats,) = await app.broker.stats(["default"])
                if stats.total_ready == 1:
                    break
                await anyio.sleep(0.02)
        assert config.failures == 0
        group.cancel_scope.cancel()
    await app.stop()


async def test_a_lost_lease_stops_firing() -> None:
    app = make_app()
    clock = ManualClock(START)
    timer = AsyncTimer(app, clock=clock, lease_ttl=5)
    timer.add_task("job", trigger=10)
    clock.advance(10)
    assert len(await timer.run_pending()) == 1
    await app.start()
    await app.global_config.set("lease:timer:default", "someone-else", ttl=30)
    clock.advance(10)
    assert await timer.run_pending() == []
    assert not timer.is_leader
    await app.stop()
