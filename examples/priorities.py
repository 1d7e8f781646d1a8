"""Priorities: lower numbers run first, first in first out within one priority.

Run it with `python examples/priorities.py`; no server needed.
"""

from __future__ import annotations

from qtasks import QueueTasks

app = QueueTasks("priority-demo")
order: list[str] = []


@app.task
def job(label: str) -> None:
    order.append(label)


def main() -> None:
    for label, priority in [("bulk-1", 10), ("urgent", -5), ("bulk-2", 10), ("normal", 0)]:
        app.add_task("job", label, priority=priority)
    with app.running(concurrency=1):  # one at a time, so the order is visible
        app.add_task("job", "last", priority=100, timeout=5)
    print(" -> ".join(order))  # urgent -> normal -> bulk-1 -> bulk-2 -> last
    app.close()


if __name__ == "__main__":
    main()
