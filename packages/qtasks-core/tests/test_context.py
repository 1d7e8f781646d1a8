from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import pytest

from qtasks import AsyncTask, SyncTask, SyncTaskContext, TaskContext
from qtasks.asyncio import QueueTasks

pytestmark = pytest.mark.anyio


async def test_the_context_inside_a_real_worker(
    app: QueueTasks, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def other() -> str:
        return "other"

    @app.task(echo=True, queue="work")
    async def inspect(self: AsyncTask[..., Any], other_uuid: str) -> dict[str, Any]:
        ctx = self.ctx
        ctx.get_logger().info("hello from %s", ctx.task_name)
        meta = await ctx.get_metadata()
        found = await ctx.get_task(other_uuid)
        await ctx.sleep(0)
        return {
            "uuid": ctx.task_uuid,
            "name": ctx.task_name,
            "attempt": ctx.attempt,
            "queue": ctx.queue,
            "status_seen": meta.status.value if meta else None,
            "other": found.returning if found else None,
            "config_name": ctx.get_config()["name"],
            "same_components": (ctx.broker, ctx.storage, ctx.global_config)
            == (app.broker, app.storage, app.global_config),
            "app": ctx.app is app,
        }

    caplog.set_level(logging.INFO, logger="qtasks.task")
    async with app.running(queues=["default", "work"]):
        first = await app.add_task("other", timeout=5)
        done = await app.add_task("inspect", first.uuid, timeout=5)
    info = done.returning
    assert info == {
        "uuid": done.uuid,
        "name": "inspect",
        "attempt": 1,
        "queue": "work",
        "status_seen": "process",
        "other": "other",
        "config_name": "test",
        "same_components": True,
        "app": True,
    }
    (record,) = [r for r in caplog.records if r.name == "qtasks.task.inspect"]
    assert record.task_name == "inspect" and record.task_uuid == done.uuid  # type: ignore[attr-defined]
    assert record.getMessage() == f"[inspect {done.uuid}] hello from inspect"


async def test_cancel_from_inside_stores_the_reason_for_async_and_sync_tasks(
    app: QueueTasks,
) -> None:
    @app.task
    async def quits_async(ctx: TaskContext) -> None:
        ctx.cancel("async reason")

    @app.task(echo=True)
    def quits_sync(self: SyncTask[..., Any]) -> None:
        self.ctx.cancel("sync reason")

    async with app.running():
        a = await app.add_task("quits_async", timeout=5)
        s = await app.add_task("quits_sync", timeout=5)
    assert (a.status, a.cancel_reason) == ("cancel", "async reason")
    assert (s.status, s.cancel_reason) == ("cancel", "sync reason")
    stored = await app.get(s.uuid)
    assert stored is not None and stored.cancel_reason == "sync reason"


async def test_sleep_is_cancellable_in_both_kinds_of_task(app: QueueTasks) -> None:
    started: list[str] = []

    @app.task
    async def naps(ctx: TaskContext) -> str:
        started.append("async")
        await ctx.sleep(30)
        return "woke"

    @app.task
    def dozes(ctx: SyncTaskContext) -> str:
        started.append("sync")
        ctx.sleep(30)
        return "woke"

    async with app.running(concurrency=2):
        sleeping = [await app.add_task("naps"), await app.add_task("dozes")]
        with anyio.fail_after(5):
            while len(started) < 2:
                await anyio.sleep(0.005)
        began = time.monotonic()
        for record in sleeping:
            assert await app.cancel(record.uuid, "wake up") is True
        finals = [await r.wait_result_async(5) for r in sleeping]
    assert time.monotonic() - began < 5
    assert [(f.status, f.cancel_reason) for f in finals] == [("cancel", "wake up")] * 2


async def test_sync_context_helpers_block_their_thread(app: QueueTasks) -> None:
    @app.task
    def reads(ctx: SyncTaskContext) -> list[Any]:
        meta = ctx.get_metadata()
        missing = ctx.get_task("no-such-uuid")
        ctx.sleep(0.001)
        return [meta.status.value if meta else None, missing, ctx.parent_uuid]

    async with app.running():
        done = await app.add_task("reads", timeout=5)
    assert done.returning == ["process", None, None]
