from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from qtasks import TaskCall
from qtasks.asyncio import QueueTasks
from qtasks.middleware import CallNext

pytestmark = pytest.mark.anyio


def tracing(tag: str, journal: list[str]) -> Any:
    async def middleware(task: TaskCall, call_next: CallNext) -> Any:
        journal.append(f"{tag}>")
        try:
            return await call_next(task)
        finally:
            journal.append(f"<{tag}")

    return middleware


async def test_app_wide_middlewares_wrap_per_task_ones_outermost_first(app: QueueTasks) -> None:
    journal: list[str] = []
    app.add_middleware(tracing("app1", journal))
    app.add_middleware(tracing("app2", journal))

    @app.task(middlewares=[tracing("task", journal)])
    def job() -> str:
        journal.append(f"run in {'loop' if threading.current_thread() is main else 'thread'}")
        return "ok"

    main = threading.current_thread()
    async with app.running():
        done = await app.add_task("job", timeout=5)
    assert done.returning == "ok"
    assert journal == ["app1>", "app2>", "task>", "run in thread", "<task", "<app2", "<app1"]


async def test_a_middleware_can_change_the_result_swallow_errors_or_short_circuit(
    app: QueueTasks,
) -> None:
    class Guard:
        async def __call__(self, task: TaskCall, call_next: CallNext) -> Any:
            if task.kwargs.get("skip"):
                return "skipped"
            try:
                return {"value": await call_next(task)}
            except ZeroDivisionError:
                return {"value": None, "error": "division"}

    calls: list[int] = []

    @app.task(middlewares=[Guard()])
    async def divide(a: int, b: int, skip: bool = False) -> float:
        calls.append(1)
        return a / b

    async with app.running():
        assert (await app.add_task("divide", 6, 3, timeout=5)).returning == {"value": 2.0}
        failed = await app.add_task("divide", 1, 0, timeout=5)
        skipped = await app.add_task("divide", 1, 1, skip=True, timeout=5)
    assert failed.status == "success"
    assert failed.returning == {"value": None, "error": "division"}
    assert skipped.returning == "skipped" and len(calls) == 2


async def test_middlewares_run_inside_max_time_and_see_the_call(app: QueueTasks) -> None:
    async def slow(task: TaskCall, call_next: CallNext) -> Any:
        await anyio.sleep(5)
        return await call_next(task)

    seen: list[tuple[str, tuple[Any, ...]]] = []

    async def spy(task: TaskCall, call_next: CallNext) -> Any:
        seen.append((task.definition.name, task.args))
        return await call_next(task)

    app.add_middleware(spy)

    @app.task(max_time=0.05, middlewares=[slow])
    async def quick(x: int) -> int:
        return x

    async with app.running():
        done = await app.add_task("quick", 3, timeout=5)
    assert done.status == "error" and "exceeded its max_time" in (done.error or "")
    assert seen == [("quick", (3,))]


def test_middlewares_must_be_callable() -> None:
    app = QueueTasks("mw")
    from qtasks import TaskDefinitionError

    with pytest.raises(TaskDefinitionError, match="middlewares must be async callables"):

        @app.task(middlewares=["nope"])  # type: ignore[list-item]
        def job() -> None:
            return None
