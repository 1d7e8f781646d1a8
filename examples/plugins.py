"""Plugins and middlewares: hooks on the runtime's events, and wrappers around every call.

Run it with `python examples/plugins.py` (no server: everything is in memory).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import anyio

from qtasks import Outcome, Plugin, Task, TaskCall
from qtasks.asyncio import QueueTasks
from qtasks.message import TaskMessage
from qtasks.middleware import CallNext


class Tenancy(Plugin):
    """Stamps every queued task with a tenant header and rounds float results.

    Only the hooks a plugin overrides are ever called; the rest cost nothing.
    """

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant

    def before_add_task(self, message: TaskMessage) -> TaskMessage:
        return replace(message, headers={**message.headers, "tenant": self.tenant})

    async def after_execute(self, call: TaskCall, result: Any) -> Any:
        # Returning a value replaces the result; returning None keeps it.
        return round(result, 2) if isinstance(result, float) else None


class Alerts(Plugin):
    """Sees each failed attempt before the retry policy decides, and every final state."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def on_error(self, call: TaskCall, outcome: Outcome) -> None:
        self.lines.append(f"attempt {call.message.attempt} of {call.definition.name} failed")

    def on_retry(self, call: TaskCall, outcome: Outcome) -> None:
        self.lines.append(f"retrying in {outcome.retry_delay:.2f}s")

    def after_attempt(self, call: TaskCall, outcome: Outcome) -> None:
        self.lines.append(f"{call.definition.name} ended as {outcome.status}")


async def timed(task: TaskCall, call_next: CallNext) -> Any:
    """An app-wide middleware: wraps the function call, sees its result or exception."""
    started = time.perf_counter()
    try:
        return await call_next(task)
    finally:
        task.record.headers = {**task.record.headers, "ms": (time.perf_counter() - started) * 1e3}


alerts = Alerts()
app = QueueTasks(plugins=[Tenancy("acme"), alerts], middlewares=[timed])


@app.task
def ratio(a: int, b: int) -> float:
    return a / b


@app.task(retry=1, retry_backoff=0.01)
async def flaky(attempts: list[int]) -> str:
    raise ConnectionError("upstream down")


async def main() -> None:
    async with app.running():
        done: Task = await app.add_task("ratio", 2, 3, timeout=5)
        failed = await app.add_task("flaky", [], timeout=5)
    print(done.returning, done.headers["tenant"], f"{done.headers['ms']:.1f} ms")
    print(failed.status, "|", "; ".join(alerts.lines))
    assert done.returning == 0.67
    assert done.headers["tenant"] == "acme"
    assert failed.status == "error"
    assert "retrying in" in alerts.lines[2]


if __name__ == "__main__":
    anyio.run(main)
