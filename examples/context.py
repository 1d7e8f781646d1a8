"""Task context: a task that sees its own identity, logs, sleeps, spawns work and cancels.

Run it with `python examples/context.py` (no server: everything is in memory).
"""

from __future__ import annotations

import logging

import anyio

from qtasks import AsyncTask, SyncTaskContext, TaskContext
from qtasks.asyncio import QueueTasks

app = QueueTasks()


@app.task
async def resize(image: str, ctx: TaskContext) -> str:
    """Any task can ask for its context by annotating a parameter with TaskContext."""
    log = ctx.get_logger()  # records carry task_name and task_uuid
    log.info("resizing %s (attempt %d)", image, ctx.attempt)
    await ctx.sleep(0.01)  # cancellable, never blocks the event loop
    return f"{image}@small"


@app.task(echo=True)
async def album(self: AsyncTask[..., str], images: list[str]) -> list[str]:
    """echo=True passes the task object first: self.ctx, and self.add_task for more work."""
    children = [await resize.add_task(name) for name in images]  # parent: this album
    done = [await self.ctx.app.wait_result(child.uuid, timeout=5) for child in children]
    me = await self.ctx.get_metadata()  # this task's stored record, as others see it
    assert me is not None
    assert me.status == "process"
    return [d.returning for d in done]


@app.task
def checked(order_id: int, ctx: SyncTaskContext) -> str:
    """Sync tasks run in a thread and get a SyncTaskContext whose helpers block instead."""
    if order_id < 0:
        ctx.cancel(f"order {order_id} does not exist")  # ends the task as status cancel
    ctx.sleep(0.001)
    return f"order {order_id} ok"


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    async with app.running(concurrency=4):
        result = await app.add_task("album", ["a.png", "b.png"], timeout=5)
        print("album:", result.returning)
        good = await app.add_task("checked", 7, timeout=5)
        bad = await app.add_task("checked", -1, timeout=5)
        print("checked:", good.status, good.returning, "|", bad.status, bad.cancel_reason)
        assert (bad.status, bad.cancel_reason) == ("cancel", "order -1 does not exist")


if __name__ == "__main__":
    anyio.run(main)
