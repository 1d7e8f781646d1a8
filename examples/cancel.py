"""Cancelling a queued task and a running one; both keep the reason.

Run it with `python examples/cancel.py`; no server needed.
"""

from __future__ import annotations

import anyio

from qtasks.asyncio import QueueTasks

app = QueueTasks("cancel-demo")
started = anyio.Event()


@app.task
async def long_report(days: int) -> str:
    started.set()
    await anyio.sleep(days)  # a running async task is interrupted at its next await
    return "report"


@app.task
def nightly_cleanup() -> str:
    return "cleaned"


async def main() -> None:
    queued = await app.add_task("nightly_cleanup", delay=60)
    await app.cancel(queued.uuid, reason="maintenance window moved")
    print("queued:", await app.get(queued.uuid))
    async with app.running():
        running = await app.add_task("long_report", 30)
        await started.wait()
        await app.cancel(running.uuid, reason="user pressed stop")
        done = await running.wait_result_async(5)
        print("running:", done.status, repr(done.cancel_reason))


if __name__ == "__main__":
    anyio.run(main)
