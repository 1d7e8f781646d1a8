"""Producing tasks and reading results: add_task options, add_tasks, waiting, the Task record.

Run it with `python examples/results.py`; no server needed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from qtasks import Call, QueueTasks, TaskArgumentError, TaskTimeoutError

app = QueueTasks("results-demo")


@app.task
def add(a: int, b: int) -> int:
    return a + b


@app.task
def mul(a: int, b: int) -> int:
    return a * b


@app.task
def report(day: str, priority: str = "normal") -> str:
    return f"report for {day} ({priority})"


@app.task
def fail() -> None:
    raise ValueError("bad input")


def main() -> None:
    day = "2026-01-31"
    when = datetime.now(timezone.utc) + timedelta(hours=1)

    task = app.add_task("add", 1, 2)  # Task(status='new', ...) at once
    print("queued:", task.status, task.task_name, task.args)
    task = app.add_task("add", 1, 2, priority=-1)  # lower runs first
    task = app.add_task("report", day, delay=30)  # due in 30 s
    task = app.add_task("report", day, eta=when)  # an aware datetime (or epoch seconds)
    print("due later:", task.eta is not None and task.eta > datetime.now(timezone.utc))
    task = app.add_task("report", day, task_kwargs={"priority": "high"})  # a clashing name

    try:
        app.add_task("add", 1, {2, 3})  # a set is not JSON
    except TaskArgumentError as exc:
        print("refused before queueing:", exc)

    with app.running(concurrency=4):
        task = app.add_task("add", 1, 2, timeout=5)  # waits: the finished Task
        print("finished:", task.status, task.returning)
        task = app.add_task("add", 2, 2, headers={"source": "api"})  # plain data kept on the record
        print("waited for:", task.wait_result(5).returning, app.get(task.uuid).headers)

        records = app.add_tasks("mul", [(2, 3), {"a": 4, "b": 5}, Call(6, b=7)])
        print("add_tasks:", [app.wait_result(r.uuid, 5).returning for r in records])

        failed = app.add_task("fail", timeout=5)  # a failure is a result too, never a raise
        print("failed:", failed.status, failed.error)
        print("attempts:", [(a.number, a.status.value) for a in failed.attempts])

        slow = app.add_task("report", day, delay=60)
        try:
            slow.wait_result(0.2)
        except TaskTimeoutError as exc:
            print("timed out:", exc)

    print("unknown uuid:", app.get("no-such-uuid"))


if __name__ == "__main__":
    main()
