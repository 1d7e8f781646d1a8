"""The sync app: the same API, blocking, over the async core on a private loop thread."""

from __future__ import annotations

import threading

import anyio
import pytest

from qtasks import QueueTasks, SyncTask, TaskTimeoutError


def test_the_sync_api_end_to_end(sync_app: QueueTasks) -> None:
    @sync_app.task(priority=2)
    def add(a: int, b: int) -> int:
        return a + b

    assert isinstance(add, SyncTask)
    assert add(2, 3) == 5  # calling the task object runs the function right here
    queued = sync_app.add_task("add", 1, 2)
    assert queued.status == "new"
    assert queued.priority == 2
    with sync_app.running(concurrency=2) as worker:
        assert worker.running
        assert queued.wait_result(timeout=5).returning == 3
        assert add.add_task(4, 5, timeout=5).returning == 9
        many = sync_app.add_tasks("add", [(i, i) for i in range(4)])
        assert [t.wait_result(5).returning for t in many] == [0, 2, 4, 6]
    record = sync_app.get(queued.uuid)
    assert record is not None
    assert record.status == "success"
    assert sync_app.get("unknown") is None
    assert sync_app.name == "test-sync"
    assert sync_app.config["tasks"] == ["add"]
    assert "add" in sync_app.registry
    assert sync_app.broker is sync_app.aio.broker
    assert sync_app.storage is sync_app.aio.storage
    assert sync_app.global_config is sync_app.aio.global_config


def test_waiting_without_a_worker_times_out_naming_the_task(sync_app: QueueTasks) -> None:
    @sync_app.task
    def idle() -> None:
        return None

    queued = sync_app.add_task("idle")
    with pytest.raises(TaskTimeoutError, match=rf"task 'idle' \({queued.uuid}\)"):
        sync_app.wait_result(queued.uuid, timeout=0.1)
    assert sync_app.cancel(queued.uuid, "never mind") is True
    assert sync_app.wait_result(queued.uuid, timeout=5).cancel_reason == "never mind"


def test_close_stops_and_the_app_can_be_used_again(sync_app: QueueTasks) -> None:
    @sync_app.task
    def one() -> int:
        return 1

    with sync_app.running():
        assert sync_app.add_task("one", timeout=5).returning == 1
    sync_app.close()
    sync_app.close()  # twice is harmless
    with sync_app.running():  # a fresh loop thread
        assert sync_app.add_task("one", timeout=5).returning == 1


def test_the_blocking_api_refuses_to_run_on_its_own_loop(sync_app: QueueTasks) -> None:
    errors: list[str] = []

    @sync_app.task
    async def inside() -> None:
        try:
            sync_app.add_task("inside")
        except RuntimeError as exc:
            errors.append(str(exc))

    with sync_app.running():
        sync_app.add_task("inside", timeout=5)
    assert len(errors) == 1
    assert "await app.aio.<method>(...) there instead" in errors[0]


def test_a_sync_task_can_queue_a_child_and_wait_for_it(sync_app: QueueTasks) -> None:
    @sync_app.task
    def child(n: int) -> int:
        return n * 2

    @sync_app.task(echo=True)
    def parent(self: SyncTask[[int], int], n: int) -> int:
        queued = child.add_task(n)  # from a worker thread: blocks that thread, not the loop
        done = queued.wait_result(5)
        assert done.parent_uuid == self.ctx.task_uuid  # queued from inside this task
        nested = self.ctx.get_task(queued.uuid)
        assert nested is not None
        return int(done.returning) + 1

    with sync_app.running(concurrency=3):
        assert sync_app.add_task("parent", 4, timeout=5).returning == 9


def test_records_can_be_awaited_from_another_event_loop(sync_app: QueueTasks) -> None:
    @sync_app.task
    def slow() -> str:
        return "done"

    queued = sync_app.add_task("slow")

    async def wait_elsewhere() -> str:
        done = await queued.wait_result_async(5)
        return str(done.returning)

    with sync_app.running():
        assert anyio.run(wait_elsewhere) == "done"


def test_the_app_works_as_a_context_manager() -> None:
    with QueueTasks("ctx") as app:

        @app.task
        def hello() -> str:
            return threading.current_thread().name

        with app.running():
            assert app.add_task("hello", timeout=5).status == "success"
