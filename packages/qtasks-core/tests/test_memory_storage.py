from __future__ import annotations

import anyio
import pytest

from qtasks.memory import MemoryStorage
from qtasks.task import Task, TaskStatus

pytestmark = pytest.mark.anyio


def record(uuid: str = "u", status: TaskStatus = TaskStatus.NEW, **changes: object) -> Task:
    return Task(uuid=uuid, task_name="t", status=status, **changes)  # type: ignore[arg-type]


async def test_save_and_load_are_copies() -> None:
    storage = MemoryStorage()
    task = record(kwargs={"a": [1]})
    assert await storage.save([task]) == [True]
    task.kwargs["a"].append(2)  # mutating our object does not touch the stored one
    loaded = await storage.get("u")
    assert loaded is not None and loaded.kwargs == {"a": [1]}
    assert await storage.get_many(["u", "missing"]) == [loaded, None]
    assert len(storage) == 1


async def test_wait_times_out_and_cleans_up() -> None:
    storage = MemoryStorage()
    assert await storage.wait("nobody", 0.01) is None
    assert storage._waiters == {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(storage.wait, "u", 0.01)
        tg.start_soon(storage.wait, "u", 0.05)
    assert storage._waiters == {}


async def test_finished_records_expire_after_the_ttl() -> None:
    storage = MemoryStorage(result_ttl=0.05)
    await storage.save([record("done", TaskStatus.SUCCESS), record("open", TaskStatus.PROCESS)])
    await anyio.sleep(0.06)
    assert await storage.get("done") is None
    assert await storage.get("open") is not None
    unbounded = MemoryStorage(result_ttl=None)
    await unbounded.save([record(status=TaskStatus.SUCCESS)])
    assert unbounded._expiry == []


async def test_a_record_that_restarted_does_not_expire_with_its_old_deadline() -> None:
    storage = MemoryStorage(result_ttl=0.02)
    await storage.save([record(status=TaskStatus.SUCCESS)])
    await storage.save([record(status=TaskStatus.PROCESS)])  # e.g. written again by hand
    await anyio.sleep(0.03)
    assert await storage.get("u") is not None
