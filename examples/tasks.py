"""Defining tasks: options, names, kinds of functions, checks at import time, echo.

Run it with `python examples/tasks.py`; no server needed.
"""

from __future__ import annotations

import time

from qtasks import QueueTasks, SyncTask, TaskDefinitionError

app = QueueTasks("tasks-demo")


@app.task
def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


@app.task(name="email.send", queue="mail", priority=-1, retry=3, max_time=30, tags=["io"])
async def send_email(to: str, subject: str) -> str:
    return f"sent {subject!r} to {to}"


@app.task
def resize(path: str) -> str:
    time.sleep(0.05)  # blocking is fine: sync tasks run in a worker thread
    return f"{path} resized"


@app.task(echo=True)
def countdown(self: SyncTask[..., str | None], n: int) -> str | None:
    """Queues its own next step; the child records this run as its parent."""
    return self.add_task(n - 1).uuid if n > 0 else None


def main() -> None:
    print("called directly:", add(1, 2))
    definition = app.registry.require("email.send")
    print(
        "email.send:",
        f"queue={definition.queue} priority={definition.priority} retry={definition.retry}",
        f"max_time={definition.max_time} kind={definition.kind.value}",
    )
    print("add's description:", app.registry.require("add").description)

    # Mistakes surface when the module is imported, naming the task and the fix.
    try:

        @app.task(retry_on_exc=ValueError)
        def careless() -> None: ...

    except TaskDefinitionError as exc:
        print("refused:", exc)

    with app.running(concurrency=4):
        print("queued:", add.add_task(1, 2).wait_result(5).returning)  # = app.add_task("add", 1, 2)
        print(resize.add_task("cat.png").wait_result(5).returning)
        print(app.add_task("email.send", "ann@example.org", "hello", timeout=5).returning)
        step = countdown.add_task(2).wait_result(5)
        while step.returning is not None:
            child = app.wait_result(step.returning, 5)
            print(
                f"countdown({child.args[0]}), parent is the run before:",
                child.parent_uuid == step.uuid,
            )
            step = child


if __name__ == "__main__":
    main()
