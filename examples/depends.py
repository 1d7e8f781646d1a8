"""Depends: values a task receives without callers passing them, with lifetimes.

Run it with `python examples/depends.py` (no server: everything is in memory).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import anyio

from qtasks import Depends, TaskContext
from qtasks.asyncio import QueueTasks

app = QueueTasks()
events: list[str] = []


class Pool:
    """Stands in for a connection pool: expensive to open, shared by every task."""

    def __init__(self) -> None:
        events.append("pool opened")

    def close(self) -> None:
        events.append("pool closed")


async def pool() -> AsyncIterator[Pool]:
    """An async generator: the code after `yield` is the teardown."""
    resource = Pool()
    yield resource
    resource.close()


def settings() -> dict[str, str]:
    """A plain function runs in a worker thread, so it may block (read a file, say)."""
    return {"greeting": "hello"}


def transaction(db: Annotated[Pool, Depends(pool, scope="worker")]) -> Iterator[str]:
    """Providers take Depends too. Task scope (the default): one per call, closed after it."""
    events.append("transaction begun")
    yield f"tx on {type(db).__name__}"
    events.append("transaction ended")


@app.task
async def greet(
    name: str,
    ctx: TaskContext,
    conf: dict[str, str] = Depends(settings, scope="worker"),
    tx: str = Depends(transaction),
) -> str:
    return f"{conf['greeting']} {name} ({tx}, task {ctx.task_name})"


async def main() -> None:
    async with app.running():
        for name in ("ann", "bob"):
            done = await app.add_task("greet", name, timeout=5)  # only `name` is passed
            print(done.returning)
    # The worker-scoped pool was opened once and closed when the worker stopped.
    print(events)
    assert events.count("pool opened") == 1
    assert events[-1] == "pool closed"
    assert events.count("transaction ended") == 2

    # In tests, swap a provider for a fake:
    app.dependency_overrides[settings] = lambda: {"greeting": "hi"}
    async with app.running():
        print((await app.add_task("greet", "cy", timeout=5)).returning)
    app.dependency_overrides.clear()


if __name__ == "__main__":
    anyio.run(main)
