from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import anyio
import pytest

import qtasks.plugins
from qtasks import AsyncState, SyncState
from qtasks.asyncio import QueueTasks

pytestmark = pytest.mark.anyio


class Counters(AsyncState):
    initial: ClassVar[dict[str, Any]] = {"hits": 0}


class Totals(SyncState):
    pass


async def test_async_state_operations() -> None:
    state = Counters()
    assert await state.get_all() == {"hits": 0}
    await state.set("a", 1)
    assert await state.get("a") == 1 and await state.get("missing", "d") == "d"
    assert await state.update(b=2) == {"hits": 0, "a": 1, "b": 2}
    assert await state.update(lambda d: {k: v for k, v in d.items() if k != "hits"}) == {
        "a": 1,
        "b": 2,
    }

    async def later(data: dict[str, Any]) -> dict[str, Any]:
        await anyio.sleep(0)
        return {**data, "c": 3}

    assert (await state.update(later))["c"] == 3
    assert await state.delete("a") is True and await state.delete("a") is False
    await state.clear()
    assert await state.get_all() == {}
    with pytest.raises(TypeError, match="not both"):
        await state.update(lambda d: d, x=1)
    with pytest.raises(TypeError, match="must return a mapping"):
        await state.update(lambda d: [1])  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="expects a function"):
        await state.update(5)  # type: ignore[arg-type]
    assert Counters().initial is Counters.initial and await Counters().get("hits") == 0


def test_sync_state_operations() -> None:
    state = Totals()
    state.set("a", 1)
    assert state.get("a") == 1 and state.get("b") is None
    assert state.update(b=2) == {"a": 1, "b": 2}
    assert state.update(lambda d: {"only": sum(d.values())}) == {"only": 3}
    assert state.delete("only") is True and state.delete("only") is False
    state.set("x", 1)
    state.clear()
    assert state.get_all() == {}

    async def not_allowed(data: dict[str, Any]) -> dict[str, Any]:
        return data

    with pytest.raises(TypeError, match="must be a plain function"):
        state.update(not_allowed)  # type: ignore[arg-type]


async def test_async_update_is_atomic_under_1000_concurrent_increments() -> None:
    state = Counters()

    async def increment(data: dict[str, Any]) -> dict[str, Any]:
        current = data["hits"]
        await anyio.sleep(0)  # every other increment gets a chance to interleave here
        return {**data, "hits": current + 1}

    async with anyio.create_task_group() as group:
        for _ in range(1000):
            group.start_soon(state.update, increment)
    assert await state.get("hits") == 1000


def test_sync_update_is_atomic_under_1000_increments_from_threads() -> None:
    state = Totals()

    def increment(data: dict[str, Any]) -> dict[str, Any]:
        current = data.get("n", 0)
        time.sleep(0)  # let other threads run between the read and the write
        return {**data, "n": current + 1}

    def worker() -> None:
        for _ in range(125):
            state.update(increment)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.get("n") == 1000


async def test_tasks_of_one_worker_share_one_state_instance(app: QueueTasks) -> None:
    assert qtasks.plugins.AsyncState is AsyncState and qtasks.plugins.SyncState is SyncState

    @app.task
    async def hit(state: Counters) -> int:
        async def bump(data: dict[str, Any]) -> dict[str, Any]:
            await anyio.sleep(0)
            return {**data, "hits": data["hits"] + 1}

        return (await state.update(bump))["hits"]

    @app.task
    def total(state: Totals, amount: int) -> int:
        return state.update(lambda d: {"sum": d.get("sum", 0) + amount})["sum"]

    async with app.running(concurrency=20):
        records = await app.add_tasks("hit", [() for _ in range(50)])
        results = sorted([(await r.wait_result_async(5)).returning for r in records])
        sums = await app.add_tasks("total", [(i,) for i in range(1, 11)])
        final = max([(await s.wait_result_async(5)).returning for s in sums])
    assert results == list(range(1, 51))
    assert final == 55
    async with app.running():
        fresh = await app.add_task("hit", timeout=5)
    assert fresh.returning == 1  # a new worker starts from the initial data


async def test_the_base_classes_themselves_cannot_be_injected(app: QueueTasks) -> None:
    from qtasks import TaskDefinitionError

    with pytest.raises(TaskDefinitionError, match="annotate a subclass of AsyncState"):

        @app.task
        async def vague(state: AsyncState) -> None:
            return None
