"""Lifecycle events as decorators: starting, stopping, and how each task ended.

Run it with `python examples/events.py` (no server: everything is in memory).
"""

from __future__ import annotations

from typing import Any

from qtasks import QueueTasks, SyncTask, Task

app = QueueTasks()  # the sync app; events work the same on the async one
log: list[str] = []


@app.events.on.starting()
async def warm_up() -> None:
    log.append("worker starting: caches warmed")


@app.events.on.stopping()
def flush() -> None:
    # Plain functions run in a worker thread, so they may block.
    log.append("worker stopped: metrics flushed")


@app.events.on.task_success()
async def record_success(task: Task) -> None:
    log.append(f"{task.task_name} -> {task.returning}")


@app.events.on.task_error()
def page_someone(task: Task) -> None:
    log.append(f"{task.task_name} failed: {task.error}")


@app.events.on.task_cancel()
def note_cancel(task: Task) -> None:
    log.append(f"{task.task_name} cancelled: {task.cancel_reason}")


@app.task
def square(x: int) -> int:
    return x * x


@app.task
def broken() -> None:
    raise RuntimeError("disk full")


@app.task(echo=True)
def refuse(self: SyncTask[..., Any]) -> None:
    self.ctx.cancel("not allowed")


def main() -> None:
    with app.running():
        for name, args in (("square", (4,)), ("broken", ()), ("refuse", ())):
            app.add_task(name, *args, timeout=5)
    app.close()
    print("\n".join(log))
    assert log[0].startswith("worker starting")
    assert log[-1].startswith("worker stopped")
    assert log[1:4] == [
        "square -> 16",
        "broken failed: RuntimeError: disk full",
        "refuse cancelled: not allowed",
    ]


if __name__ == "__main__":
    main()
