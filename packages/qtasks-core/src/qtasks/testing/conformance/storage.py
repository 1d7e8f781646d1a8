"""The Storage contract, as tests: whole records, conditional writes, waiting, TTLs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone

import anyio
import pytest

from qtasks.interfaces.storage import Storage
from qtasks.task import QUEUED_STATUSES, STARTABLE_STATUSES, Attempt, Task, TaskStatus
from qtasks.testing.conformance._support import Instances, instances

__all__ = ["StorageConformance", "StorageFactory"]

StorageFactory = Callable[[], Storage]


def record(uuid: str, status: TaskStatus = TaskStatus.NEW, **fields: object) -> Task:
    """A record with every field set, so a round trip that drops one is caught."""
    now = datetime.now(timezone.utc).replace(microsecond=123000)
    task = Task(
        uuid=uuid,
        task_name="conformance",
        status=status,
        priority=3,
        queue="q",
        args=(1, "two", [3.5, None], {"k": True}),
        kwargs={"a": "é", "nested": {"x": [1, 2]}},
        parent_uuid="parent-1",
        created_at=now,
        updated_at=now + timedelta(seconds=1),
        eta=now + timedelta(seconds=5),
        retries=1,
        progress=["step 1", {"pct": 50}],
        attempts=[Attempt(1, TaskStatus.ERROR, now, now + timedelta(seconds=1), "OSError: x")],
    )
    if status is TaskStatus.SUCCESS:
        task.returning = {"result": [1, 2, 3]}
    for name, value in fields.items():
        setattr(task, name, value)
    if status.is_final:
        task.finished_at = now + timedelta(seconds=2)
    return task


class StorageConformance:
    """The Storage contract; subclass it and provide ``storage_factory``.

    Each factory call returns a new, unstarted storage on the same server. The suite sets
    ``result_ttl`` on instances it tests expiry with, so a storage must read that attribute
    when it writes a finished record.
    """

    pytestmark = pytest.mark.anyio

    #: The shortest result TTL (seconds) the backend honours; expiry tests wait about this.
    shortest_ttl: float = 1.0

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def storage_factory(self) -> StorageFactory:
        raise NotImplementedError("a StorageConformance subclass must provide storage_factory")

    @pytest.fixture
    async def storages(self, storage_factory: StorageFactory) -> AsyncIterator[Instances[Storage]]:
        async with instances(storage_factory) as made:
            yield made

    @pytest.fixture
    async def storage(self, storages: Instances[Storage]) -> Storage:
        return await storages.new()

    async def test_records_round_trip_every_field(self, storage: Storage) -> None:
        for status in TaskStatus:
            original = record(f"rt-{status.value}", status)
            assert await storage.save([original]) == [True]
            loaded = await storage.get(original.uuid)
            assert loaded == original
            assert loaded is not original

    async def test_get_many_keeps_order_and_marks_unknown(self, storage: Storage) -> None:
        await storage.save([record("a"), record("b")])
        got = await storage.get_many(["b", "missing", "a"])
        assert [t.uuid if t else None for t in got] == ["b", None, "a"]
        assert await storage.get("missing") is None

    async def test_a_second_instance_sees_the_same_records(
        self, storages: Instances[Storage]
    ) -> None:
        first, second = await storages.new(), await storages.new()
        await first.save([record("shared", TaskStatus.SUCCESS)])
        loaded = await second.get("shared")
        assert loaded is not None
        assert loaded.returning == {"result": [1, 2, 3]}

    async def test_conditional_writes(self, storage: Storage) -> None:
        assert await storage.save([record("c", TaskStatus.NEW)], only_if=QUEUED_STATUSES) == [True]
        started = record("c", TaskStatus.PROCESS)
        assert await storage.save([started], only_if=STARTABLE_STATUSES) == [True]
        cancelled = record("c", TaskStatus.CANCEL, cancel_reason="stop")
        assert await storage.save([cancelled], only_if=QUEUED_STATUSES) == [False]
        loaded = await storage.get("c")
        assert loaded is not None
        assert loaded.status is TaskStatus.PROCESS
        done = record("c", TaskStatus.SUCCESS)
        assert await storage.save([done]) == [True]
        again = record("c", TaskStatus.PROCESS)
        assert await storage.save([again, record("fresh")], only_if=STARTABLE_STATUSES) == [
            False,
            True,
        ]
        final = await storage.get("c")
        assert final is not None
        assert final.status is TaskStatus.SUCCESS

    async def test_many_records_in_one_save(self, storage: Storage) -> None:
        batch = [record(f"bulk-{i}") for i in range(500)]
        assert await storage.save(batch) == [True] * 500
        loaded = await storage.get_many([t.uuid for t in batch])
        assert all(t is not None and t.uuid == f"bulk-{i}" for i, t in enumerate(loaded))

    async def test_wait_returns_a_finished_record_at_once(self, storage: Storage) -> None:
        await storage.save([record("done", TaskStatus.ERROR, error="ValueError: x")])
        start = time.monotonic()
        got = await storage.wait("done", 5)
        assert got is not None
        assert got.error == "ValueError: x"
        assert time.monotonic() - start < 2

    async def test_wait_is_woken_by_the_finishing_write(self, storages: Instances[Storage]) -> None:
        waiting_side, writing_side = await storages.new(), await storages.new()
        await writing_side.save([record("w", TaskStatus.PROCESS)])
        results: list[Task | None] = []

        async def wait() -> None:
            results.append(await waiting_side.wait("w", 10))

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(wait)
            await anyio.sleep(0.3)
            assert results == []  # a non-final write must not wake them
            await writing_side.save([record("w", TaskStatus.RETRY)])
            await anyio.sleep(0.2)
            assert results == []
            start = time.monotonic()
            await writing_side.save([record("w", TaskStatus.SUCCESS)])
        assert time.monotonic() - start < 5
        assert [r.status if r else None for r in results] == [TaskStatus.SUCCESS] * 3

    async def test_wait_for_an_unknown_task_that_appears_later(self, storage: Storage) -> None:
        results: list[Task | None] = []
        async with anyio.create_task_group() as group:

            async def wait() -> None:
                results.append(await storage.wait("late", 10))

            group.start_soon(wait)
            await anyio.sleep(0.2)
            await storage.save([record("late", TaskStatus.CANCEL, cancel_reason="r")])
        assert results[0] is not None
        assert results[0].cancel_reason == "r"

    async def test_wait_times_out_with_none(self, storage: Storage) -> None:
        await storage.save([record("slow", TaskStatus.PROCESS)])
        start = time.monotonic()
        assert await storage.wait("slow", 0.3) is None
        assert 0.25 <= time.monotonic() - start < 5
        # and a later finish is still seen by a new wait
        await storage.save([record("slow", TaskStatus.SUCCESS)])
        assert await storage.wait("slow", 5) is not None

    async def test_finished_records_expire_after_result_ttl(self, storage: Storage) -> None:
        storage.result_ttl = self.shortest_ttl
        await storage.save(
            [record("old", TaskStatus.SUCCESS), record("running", TaskStatus.PROCESS)]
        )
        await anyio.sleep(self.shortest_ttl + 1.2)
        assert await storage.get("old") is None
        assert await storage.get("running") is not None

    async def test_a_record_that_is_started_again_does_not_expire(self, storage: Storage) -> None:
        storage.result_ttl = self.shortest_ttl
        await storage.save([record("redo", TaskStatus.ERROR)])
        await storage.save([record("redo", TaskStatus.PROCESS)])
        await anyio.sleep(self.shortest_ttl + 1.2)
        assert await storage.get("redo") is not None

    async def test_delete(self, storage: Storage) -> None:
        await storage.save([record("x"), record("y", TaskStatus.SUCCESS)])
        assert await storage.delete(["x", "y", "nope"]) == 2
        assert await storage.get_many(["x", "y"]) == [None, None]
