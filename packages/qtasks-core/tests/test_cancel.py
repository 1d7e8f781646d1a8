"""Cancellation: a waiting task never runs; a running one is stopped; the reason is stored."""

from __future__ import annotations

import threading

import anyio
import pytest

from qtasks import AsyncTask, SyncTask
from qtasks.asyncio import QueueTasks

pytestmark = pytest.mark.anyio


async def test_a_queued_task_is_cancelled_before_any_worker_sees_it(app: QueueTasks) -> None:
    ran: list[bool] = []

    @app.task
    def job() -> None:
        ran.append(True)

    queued = await app.add_task("job")
    assert await app.cancel(queued.uuid, reason="not needed any more") is True
    async with app.running():
        done = await app.add_task("job", timeout=5)  # a second one runs normally
        cancelled = await queued.wait_result_async(5)
    assert done.status == "success"
    assert ran == [True]
    assert cancelled.status == "cancel"
    assert cancelled.cancel_reason == "not needed any more"
    assert cancelled.finished_at is not None


async def test_a_delayed_task_can_be_cancelled(app: QueueTasks) -> None:
    @app.task
    def later() -> None:
        return None

    queued = await app.add_task("later", delay=30)
    assert await app.cancel(queued.uuid, "changed my mind") is True
    record = await app.get(queued.uuid)
    assert record is not None
    assert record.status == "cancel"


async def test_a_running_async_task_is_interrupted(app: QueueTasks) -> None:
    started = anyio.Event()
    finished: list[bool] = []

    @app.task
    async def long_job() -> None:
        started.set()
        await anyio.sleep(30)
        finished.append(True)

    async with app.running():
        queued = await app.add_task("long_job")
        await started.wait()
        assert await app.cancel(queued.uuid, "user pressed stop") is True
        done = await queued.wait_result_async(5)
    assert done.status == "cancel"
    assert done.cancel_reason == "user pressed stop"
    assert finished == []


async def test_a_sync_task_sleeping_through_its_context_is_woken(app: QueueTasks) -> None:
    started = threading.Event()

    @app.task(echo=True)
    def careful(self: SyncTask[[], str]) -> str:
        started.set()
        self.ctx.sleep(30)
        return "slept"

    async with app.running():
        queued = await app.add_task("careful")
        await anyio.to_thread.run_sync(started.wait, 5)
        assert await app.cancel(queued.uuid, "enough") is True
        done = await queued.wait_result_async(5)
    assert done.status == "cancel"
    assert done.cancel_reason == "enough"


async def test_a_task_can_cancel_itself_through_its_context(app: QueueTasks) -> None:
    @app.task(echo=True)
    async def quitter(self: AsyncTask[[int], int], n: int) -> int:
        if n < 0:
            self.ctx.cancel(f"nothing to do for {n}")
        return n

    async with app.running():
        done = await app.add_task("quitter", -1, timeout=5)
        fine = await app.add_task("quitter", 2, timeout=5)
    assert done.status == "cancel"
    assert done.cancel_reason == "nothing to do for -1"
    assert fine.returning == 2


async def test_cancelling_a_finished_or_unknown_task_says_no(app: QueueTasks) -> None:
    @app.task
    def quick() -> int:
        return 1

    async with app.running():
        done = await app.add_task("quick", timeout=5)
    assert await app.cancel(done.uuid) is False
    assert await app.cancel("no-such-uuid") is False
    record = await app.get(done.uuid)
    assert record is not None
    assert record.status == "success"
