from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from qtasks import AsyncTask, Depends, Task, TaskStatus
from qtasks import QueueTasks as SyncQueueTasks
from qtasks.asyncio import QueueTasks
from qtasks.memory import MemoryBroker
from qtasks.testing import AsyncTestCase, SyncTestCase


def build(app: QueueTasks, journal: list[str]) -> None:
    """Tasks used by several tests: a chain, a flaky one, one with a worker-scoped resource."""

    async def resource() -> AsyncIterator[str]:
        journal.append("open")
        yield "res"
        journal.append("close")

    @app.task(echo=True)
    async def parent(self: AsyncTask[..., Any], n: int) -> int:
        await self.add_task(n + 1)  # queues another parent: eager mode only queues it
        return n

    @app.task(retry=2, retry_backoff=60)  # a backoff a test must never wait for
    async def flaky(ctx_data: dict[str, int]) -> str:
        raise OSError("still down")

    @app.task
    async def uses(r: str = Depends(resource, scope="worker")) -> str:
        return r

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    @app.task(echo=True)
    async def fanout(self: AsyncTask[..., Any], n: int) -> int:
        for i in range(n):
            await app.add_task("add", i, i, parent_uuid=self.ctx.task_uuid)
        return n


@pytest.mark.anyio
async def test_async_case_swaps_components_runs_eagerly_and_restores(app: QueueTasks) -> None:
    journal: list[str] = []
    build(app, journal)
    original = (app.broker, app.storage, app.global_config)

    def fake_resource() -> str:
        return "fake"

    async with AsyncTestCase(app) as case:
        assert app.broker is case.broker and app.broker is not original[0]
        assert isinstance(case.broker, MemoryBroker)
        first = await case.add_task("parent", 1)
        assert (first.status, first.returning) == ("success", 1)
        child = case.assert_queued("parent", 2)
        assert child.parent_uuid == first.uuid and child.status == "new"
        assert await case.broker.purge(["default"]) == 1  # parents would chain forever
        fan = await case.add_task("fanout", 3)
        ran = await case.run_queued()
        assert [t.returning for t in ran] == [0, 2, 4]
        assert all(t.parent_uuid == fan.uuid for t in ran)
        failed = await case.add_task("flaky", {})
        assert failed.status == "error" and len(failed.attempts) == 3
        assert [t.task_name for t in case.queued].count("flaky") == 1  # retries are not "queued"
        assert (await case.add_task("uses")).returning == "res"
        assert (await case.add_task("uses")).returning == "res"
        assert journal == ["open"]  # one worker-scoped value for the whole case
        app.dependency_overrides[fake_resource] = fake_resource
    assert journal == ["open", "close"]
    assert (app.broker, app.storage, app.global_config) == original
    assert app.dependency_overrides == {}
    assert not any(p.plugin_name == "qtasks-testing" for p in app.plugins)


@pytest.mark.anyio
async def test_in_process_worker_and_wait_until_idle(app: QueueTasks) -> None:
    build(app, [])
    async with AsyncTestCase(app) as case:
        await case.enqueue("fanout", 4)
        with pytest.raises(TimeoutError, match=r"1 task\(s\) queued, 0 running; is a worker"):
            await case.wait_until_idle(timeout=0.05)
        async with case.worker(concurrency=2):
            await case.wait_until_idle()  # the fan-out and the four tasks it queued
            children = [t for t in case.queued if t.task_name == "add"]
            assert len(children) == 4
            assert [await case.assert_success(c) for c in children] == [0, 2, 4, 6]
        assert case.broker.idle


@pytest.mark.anyio
async def test_assertions_explain_what_went_wrong(app: QueueTasks) -> None:
    build(app, [])
    async with AsyncTestCase(app) as case:
        done = await case.add_task("add", 1, 2)
        assert await case.assert_success(done, 3) == 3
        await case.assert_status(done.uuid, "success")
        failed = await case.add_task("flaky", {})
        with pytest.raises(AssertionError, match=r"is error, not success: OSError: still down"):
            await case.assert_success(failed)
        with pytest.raises(AssertionError, match="returned 3, expected 4"):
            await case.assert_success(done, 4)
        with pytest.raises(AssertionError, match="is success, expected error"):
            await case.assert_status(done, TaskStatus.ERROR)
        with pytest.raises(
            AssertionError, match=r"add\(9, 9\) was not queued; queued: add\(1, 2\)"
        ):
            case.assert_queued("add", 9, 9)
        with pytest.raises(AssertionError, match="add was queued 1 time"):
            case.assert_not_queued("add")
        case.assert_not_queued("parent")
        with pytest.raises(AssertionError, match="has no stored record"):
            await case.assert_status("nope", "success")
        with pytest.raises(LookupError, match="is not waiting in a queue"):
            await case.run(done)
        queued = await case.enqueue("add", 4, 4)
        assert (await case.run(queued)).returning == 8
        assert case.assert_queued("add", 4, 4).uuid == queued.uuid
        assert await case.get("missing") is None
    with pytest.raises(RuntimeError, match="open the test case first"):
        _ = case.broker


@pytest.mark.anyio
async def test_run_queued_stops_a_task_that_queues_itself_forever(app: QueueTasks) -> None:
    build(app, [])
    async with AsyncTestCase(app) as case:
        await case.enqueue("parent", 0)
        with pytest.raises(RuntimeError, match="ran 5 tasks and more keep coming"):
            await case.run_queued(limit=5)


@pytest.mark.anyio
async def test_a_case_cannot_be_opened_twice_and_waits_on_records(app: QueueTasks) -> None:
    build(app, [])
    case = AsyncTestCase(app)
    async with case:
        with pytest.raises(RuntimeError, match="already open"):
            case.open()
        record = await case.add_task("add", 1, 1)
        assert (await record.wait_result_async(1)).returning == 2
    await case.close()  # closing twice is harmless


@pytest.mark.anyio
async def test_the_async_fixture_under_anyio(qtasks_async_case: AsyncTestCase) -> None:
    app = qtasks_async_case.app

    @app.task
    async def hello(name: str) -> str:
        return f"hello {name}"

    done = await qtasks_async_case.add_task("hello", "anyio")
    assert done.returning == "hello anyio"


def test_sync_case_with_a_sync_app(sync_app: SyncQueueTasks) -> None:
    journal: list[str] = []
    build(sync_app.aio, journal)
    original = sync_app.broker
    with SyncTestCase(sync_app) as case:
        done = case.add_task("add", 2, 2)
        assert done.returning == 4 and done.wait_result(1).returning == 4  # blocking works
        fan = case.add_task("fanout", 2)
        child = case.assert_queued("add", 1, 1)
        assert child.parent_uuid == fan.uuid
        assert [t.returning for t in case.run_queued(limit=2)] == [0, 2]
        assert case.assert_success(fan, 2) == 2
        assert case.assert_status(child, "success").returning == 2
        assert case.get(child.uuid) is not None
        queued = case.enqueue("add", 5, 5)
        assert case.run(queued).returning == 10
        with case.worker() as worker:
            assert worker.running
            via_app = sync_app.add_task("add", 1, 1)  # the code under test uses the app
            case.wait_until_idle()
            case.assert_success(via_app, 2)
        assert len(case.queued) >= 5
        case.assert_not_queued("flaky")
        assert case.broker is sync_app.broker
    assert sync_app.broker is original


def test_sync_case_with_an_async_app_uses_its_own_loop_thread() -> None:
    app = QueueTasks("sync-over-async")
    seen: list[int] = []

    @app.task
    async def where() -> int:
        seen.append(threading.get_ident())
        return 1

    with SyncTestCase(app) as case:
        done = case.add_task("where")
        assert done.wait_result(1).returning == 1
        with case.worker():
            queued = case.enqueue("where")
            assert queued.wait_result(5).returning == 1
    assert seen and all(ident != threading.get_ident() for ident in seen)
    with pytest.raises(RuntimeError, match="open the test case first"):
        case.add_task("where")


def test_the_sync_fixture(qtasks_case: SyncTestCase) -> None:
    app = qtasks_case.app
    assert isinstance(app, SyncQueueTasks)

    @app.task
    def double(x: int) -> int:
        return x * 2

    record = qtasks_case.add_task(double, 21)
    assert isinstance(record, Task) and record.returning == 42


@pytest.mark.anyio
async def test_eager_mode_goes_through_every_plugin_hook(app: QueueTasks) -> None:
    from dataclasses import replace

    from qtasks import Plugin
    from qtasks.interfaces import Delivery, OutgoingMessage, Worker

    journal: list[str] = []

    class Everything(Plugin):
        def on_worker_start(self, worker: Worker) -> None:
            journal.append(f"start {worker.id}")

        def on_worker_stop(self, worker: Worker) -> None:
            journal.append(f"stop {worker.id}")

        def before_broker_send(self, message: OutgoingMessage) -> OutgoingMessage:
            return replace(message, body=message.body[::-1])

        def on_broker_receive(self, delivery: Delivery) -> Delivery:
            delivery.body = delivery.body[::-1]
            return delivery

        def before_storage_save(self, task: Task) -> Task:
            journal.append(f"save {task.status}")
            return task

    app.add_plugin(Everything())
    build(app, [])
    async with AsyncTestCase(app) as case:
        assert journal == []  # the stand-in worker starts with the first eager run
        assert (await case.add_task("add", 1, 2)).returning == 3
        cancelled = await case.enqueue("add", 1, 1)
        await app.cancel(cancelled.uuid, "no")
        assert case.broker.pending() == []
    assert journal == [
        "save new",
        "start eager",
        "save process",
        "save success",
        "save new",
        "save cancel",
        "stop eager",
    ]


@pytest.mark.anyio
async def test_eager_skips_a_task_cancelled_before_it_ran(app: QueueTasks) -> None:
    from qtasks import Plugin
    from qtasks.message import TaskMessage

    class CancelsOnQueue(Plugin):
        def after_add_task(self, task: Task) -> None:
            journal.append(task.uuid)

    journal: list[str] = []
    app.add_plugin(CancelsOnQueue())
    build(app, [])
    async with AsyncTestCase(app) as case:
        record = await case.enqueue("add", 2, 2)
        message = case.broker.take(record.uuid)
        assert message is not None
        stored = await case.get(record.uuid)
        assert stored is not None
        await app.storage.save([stored.copy(status=TaskStatus.CANCEL, cancel_reason="gone")])
        final = await case._runner().run(message)
        assert (final.status, final.cancel_reason) == ("cancel", "gone")
        assert TaskMessage.decode(message.body, app.serializer).task_name == "add"


def test_the_sync_app_exposes_plugins_events_and_overrides(sync_app: SyncQueueTasks) -> None:
    from qtasks import Plugin
    from qtasks.plugins import RetryPlugin

    class Marker(Plugin):
        pass

    marker = Marker()
    sync_app.add_plugin(marker)
    assert marker in sync_app.plugins and sync_app.plugins is sync_app.aio.plugins
    assert sync_app.remove_plugin(Marker) is marker
    assert isinstance(sync_app.plugins.get(RetryPlugin), RetryPlugin)
    assert sync_app.events is sync_app.aio.events
    assert sync_app.dependency_overrides is sync_app.aio.dependency_overrides

    async def middleware(task: Any, call_next: Any) -> Any:
        return ("wrapped", await call_next(task))

    sync_app.add_middleware(middleware)

    @sync_app.task
    def plain() -> int:
        return 1

    with SyncTestCase(sync_app) as case:
        assert case.add_task(plain).returning == ["wrapped", 1]


def test_loading_the_configured_app_checks_the_spec() -> None:
    from qtasks.testing.pytest_plugin import load_app

    with pytest.raises(pytest.UsageError, match="must look like 'package.module:app'"):
        load_app("no_colon")
    with pytest.raises(pytest.UsageError, match="is a module, not an app"):
        load_app("qtasks:asyncio")
    with pytest.raises(pytest.UsageError, match="is a function, not an app"):
        load_app("qtasks.testing.case:QueueTasks.add_task")
