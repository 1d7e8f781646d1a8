"""Timers: tasks queued on a schedule, fired once per tick however many processes run them.

Run it alone (in memory, no server): `python examples/timer_app.py` runs a worker and the
timer side by side for a few seconds and prints what fired.

Run it as a service (with a shared broker, for example Redis through qtasks-redis):

    QTASKS_BROKER=redis://127.0.0.1:6379/0 qtasks -A examples.timer_app:app run --timer
    QTASKS_BROKER=redis://127.0.0.1:6379/0 qtasks -A examples.timer_app:app timer list

Start as many of those workers as you like: one of them fires each tick.
"""

from __future__ import annotations

import os
from datetime import timedelta

import anyio

from qtasks import AsyncTask
from qtasks.asyncio import QueueTasks
from qtasks_timer import AsyncTimer

app = QueueTasks("timer-example", broker=os.environ.get("QTASKS_BROKER"))
timer = AsyncTimer(app, timezone="Europe/Paris", lease_ttl=5)
fired: list[str] = []
three_fired = anyio.Event()


@timer.cron("0 9 * * mon-fri", id="weekday-report", missed="skip")
@app.task
async def report(kind: str = "daily") -> str:
    """Weekday mornings at 09:00 Paris time; a morning missed while down is skipped."""
    return f"{kind} report"


@timer.every(timedelta(seconds=1), id="heartbeat")
@app.task(echo=True)
async def heartbeat(self: AsyncTask[..., None]) -> None:
    """Every second; after an outage the missed beats coalesce into one."""
    record = await self.ctx.get_metadata()
    fired.append(f"{record.headers['schedule']} @ {record.headers['tick']}")
    if len(fired) == 3:
        three_fired.set()


# Schedules are data: added, listed and removed while running.
timer.add_task("report", "weekly", trigger="30 8 * * mon", id="monday-digest")


async def main() -> None:
    async with app.running(concurrency=4), anyio.create_task_group() as group:
        group.start_soon(timer.run_forever)
        for schedule in timer.schedules():
            print(f"{schedule.id:15} {schedule.task_name:10} {schedule.description}")
        timer.remove("monday-digest")
        with anyio.fail_after(10):
            await three_fired.wait()
        timer.stop()
    for line in fired:
        print("fired:", line)


if __name__ == "__main__":
    anyio.run(main)
