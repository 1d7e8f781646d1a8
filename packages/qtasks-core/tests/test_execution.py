from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from qtasks import AsyncTask, SyncTask, Task, TaskStatus
from qtasks.asyncio import QueueTasks
from qtasks.interfaces import Outcome, OutgoingMessage, TaskCall, TaskExecutor
from qtasks.memory import MemoryBroker
from qtasks.message import TaskMessage

pytestmark = pytest.mark.anyio


async def test_sync_tasks_run_in_worker_threads_async_tasks_on_the_loop(app: QueueTasks) -> None:
    loop_thread = threading.get_ident()

    @app.task
    def sync_job() -> int:
        return threading.get_ident()

    @app.task
    async def async_job() -> int:
        return threading.get_ident()

    async with app.running(concurrency=2):
        sync_done = await app.add_task("sync_job", timeout=5)
        async_done = await app.add_task("async_job", timeout=5)
    assert sync_done.returning != loop_thread
    assert async_done.returning == loop_thread


async def test_a_blocking_sync_task_does_not_block_the_loop(app: QueueTasks) -> None:
    release = threading.Event()

    @app.task
    def blocker() -> str:
        release.wait(5)
        return "released"

    @app.task
    async def quick() -> str:
        return "quick"

    async with app.running(concurrency=2):
        blocked = await app.add_task("blocker")
        done = await app.add_task("quick", timeout=5)  # runs while blocker holds a thread
        assert done.returning == "quick"
        release.set()
        assert (await blocked.wait_result_async(5)).returning == "released"


async def test_errors_are_stored_with_message_and_traceback(app: QueueTasks) -> None:
    @app.task
    def boom(x: int) -> None:
        raise ValueError(f"bad value {x}")

    async with app.running():
        done = await app.add_task("boom", 7, timeout=5)
    assert done.status == "error"
    assert done.error == "ValueError: bad value 7"
    assert done.traceback is not None and "raise ValueError" in done.traceback
    assert done.returning is None
    assert [(a.number, a.status) for a in done.attempts] == [(1, TaskStatus.ERROR)]


async def test_results_that_cannot_be_stored_become_clear_errors(app: QueueTasks) -> None:
    @app.task
    def gives_object() -> object:
        return object()

    async with app.running():
        done = await app.add_task("gives_object", timeout=5)
    assert done.status == "error"
    assert done.error is not None
    assert "result of task 'gives_object' (object) cannot be stored by JsonSerializer" in done.error


async def test_sync_generator_handler_values_are_sent_back(app: QueueTasks) -> None:
    seen: list[Any] = []

    def handler(value: Any) -> str:
        seen.append(value)
        return f"handled {value}"

    @app.task(generate_handler=handler)
    def steps() -> Iterator[str]:
        first = yield "INIT"
        second = yield first.upper()
        return f"done after {second}"

    async with app.running():
        done = await app.add_task("steps", timeout=5)
    assert done.returning == "done after handled HANDLED INIT"
    assert seen == ["INIT", "HANDLED INIT"]
    assert done.progress == ["INIT", "HANDLED INIT"]


async def test_async_generator_result_is_the_list_of_handler_outputs(app: QueueTasks) -> None:
    async def handler(value: int) -> int:
        await anyio.sleep(0)
        return value * 10

    @app.task(generate_handler=handler)
    async def numbers(n: int) -> AsyncIterator[int]:
        total = 0
        for i in range(n):
            got = yield i + total
            total = got

    async with app.running():
        done = await app.add_task("numbers", 3, timeout=5)
    assert done.returning == [0, 10, 120]
    assert done.progress == [0, 1, 12]


async def test_generators_without_handler(app: QueueTasks) -> None:
    @app.task
    def counting() -> Iterator[int]:
        received = yield 1
        assert received is None
        yield 2
        return 3

    @app.task
    async def acounting() -> AsyncIterator[int]:
        yield 1
        yield 2

    async with app.running():
        sync_done = await app.add_task("counting", timeout=5)
        async_done = await app.add_task("acounting", timeout=5)
    assert (sync_done.returning, sync_done.progress) == (3, [1, 2])
    assert (async_done.returning, async_done.progress) == ([1, 2], [1, 2])


async def test_progress_is_readable_while_the_task_runs(app: QueueTasks) -> None:
    proceed = anyio.Event()

    @app.task
    async def stepper() -> AsyncIterator[str]:
        yield "one"
        await proceed.wait()
        yield "two"

    async with app.running():
        task = await app.add_task("stepper")
        with anyio.fail_after(5):
            while True:
                current = await app.get(task.uuid)
                assert current is not None
                if current.progress:
                    break
                await anyio.sleep(0.005)
        assert current.status == "process" and current.progress == ["one"]
        proceed.set()
        done = await task.wait_result_async(5)
    assert done.progress == ["one", "two"]


async def test_sync_handler_for_an_async_generator_and_async_handler_for_a_sync_one(
    app: QueueTasks,
) -> None:
    async def ahandler(value: int) -> int:
        return value + 100

    @app.task(generate_handler=lambda v: v * 2)
    async def agen_sync_handler() -> AsyncIterator[int]:
        yield 1

    @app.task(generate_handler=ahandler)
    def gen_async_handler() -> Iterator[int]:
        got = yield 1
        return got

    async with app.running():
        a = await app.add_task("agen_sync_handler", timeout=5)
        b = await app.add_task("gen_async_handler", timeout=5)
    assert a.returning == [2]
    assert b.returning == 101


async def test_echo_passes_the_task_object_and_nested_tasks_know_their_parent(
    app: QueueTasks,
) -> None:
    @app.task
    async def child(x: int) -> int:
        return x * 2

    @app.task(echo=True)
    async def parent(self: AsyncTask[..., Any], x: int) -> dict[str, Any]:
        assert isinstance(self, AsyncTask)
        nested = await child.add_task(x)  # any add_task inside a task records the parent
        spawned = await AsyncTask(child.definition, self.ctx.app, self.ctx).add_task(x + 1)
        return {
            "uuid": self.ctx.task_uuid,
            "attempt": self.ctx.attempt,
            "name": self.ctx.task_name,
            "queue": self.ctx.queue,
            "plain_child": nested.uuid,
            "child": spawned.uuid,
        }

    @app.task(echo=True)
    def sync_parent(self: SyncTask[..., Any]) -> str:
        assert isinstance(self, SyncTask)
        spawned = SyncTask(child.definition, self.ctx.app, anyio.from_thread.run, self.ctx)
        return spawned.add_task(5).uuid

    async with app.running(concurrency=4):
        done = await app.add_task("parent", 1, timeout=5)
        info = done.returning
        assert info["uuid"] == done.uuid and info["attempt"] == 1
        assert (info["name"], info["queue"]) == ("parent", "default")
        child_task = await app.wait_result(info["child"], 5)
        plain = await app.wait_result(info["plain_child"], 5)
        assert child_task.parent_uuid == done.uuid and child_task.returning == 4
        assert plain.parent_uuid == done.uuid
        sync_done = await app.add_task("sync_parent", timeout=5)
        spawned = await app.wait_result(sync_done.returning, 5)
        assert spawned.parent_uuid == sync_done.uuid and spawned.returning == 10


async def test_echo_tasks_queue_themselves_with_self_add_task(app: QueueTasks) -> None:
    @app.task(echo=True)
    async def countdown(self: AsyncTask[..., Any], n: int) -> int:
        if n > 0:
            follow = await self.add_task(n - 1)
            return (await self.ctx.app.wait_result(follow.uuid, 5)).returning + 1
        return 0

    async with app.running(concurrency=4):
        done = await app.add_task("countdown", 3, timeout=10)
    assert done.returning == 3


async def test_context_outside_a_run_is_an_error(app: QueueTasks) -> None:
    @app.task
    async def job() -> None:
        return None

    with pytest.raises(RuntimeError, match="has no context outside a running attempt"):
        _ = job.ctx


async def test_unknown_task_names_end_as_errors_listing_known_tasks(app: QueueTasks) -> None:
    @app.task
    def known() -> None:
        return None

    async with app.running():
        done = await app.add_task("ghost", timeout=5)
    assert done.status == "error"
    assert done.error == "UnknownTaskError: unknown task 'ghost'; registered tasks are: known"


async def test_undecodable_messages_are_dead_lettered_with_a_reason(app: QueueTasks) -> None:
    broker = app.broker
    assert isinstance(broker, MemoryBroker)

    @app.task
    def ok() -> int:
        return 1

    broker.push_raw("default", b"\x00 not a message", uuid="junk")
    async with app.running():
        done = await app.add_task("ok", timeout=5)  # the worker keeps going
    assert done.returning == 1
    dead = await broker.dead_letters()
    assert len(dead) == 1
    assert dead[0].body == b"\x00 not a message"
    assert dead[0].reason.startswith("cannot decode message with JsonSerializer")
    assert broker.in_flight == 0


async def test_messages_delivered_too_often_are_dead_lettered(app: QueueTasks) -> None:
    broker = app.broker
    assert isinstance(broker, MemoryBroker)

    @app.task
    def job() -> None:
        return None

    record = await app.add_task("job")
    for _ in range(5):  # as if five workers crashed while holding it
        (delivery,) = await broker.receive(["default"], 1, 1)
        await broker.nack([delivery])
    async with app.running(max_deliveries=5):
        final = await app.wait_result(record.uuid, 5)
    assert final.status == "error"
    assert final.error == "dead-lettered: delivered 6 times without finishing (max_deliveries=5)"
    assert final.retries == 5  # the five earlier deliveries
    dead = await broker.dead_letters()
    assert [d.uuid for d in dead] == [record.uuid]


async def test_a_dead_lettered_retry_counts_its_attempts_and_its_redeliveries(
    app: QueueTasks,
) -> None:
    broker = app.broker
    assert isinstance(broker, MemoryBroker)

    @app.task
    def job() -> None:
        return None

    third = TaskMessage("u-third", "job", (), {}, 0, "default", created_at=1.0, attempt=3)
    broker.push_raw("default", third.encode(app.serializer), uuid=third.uuid)
    for _ in range(5):  # as if five workers crashed while holding the third attempt
        (delivery,) = await broker.receive(["default"], 1, 1)
        await broker.nack([delivery])
    async with app.running(max_deliveries=5):
        final = await app.wait_result(third.uuid, 5)
    assert final.error is not None and final.error.startswith("dead-lettered: delivered 6")
    assert final.retries == 2 + 5  # two error retries before it, five redeliveries of it


async def test_a_redelivered_task_whose_result_is_stored_is_not_run_again(app: QueueTasks) -> None:
    runs: list[str] = []

    @app.task
    def once() -> str:
        runs.append("run")
        return "done"

    async with app.running():
        done = await app.add_task("once", timeout=5)
    # A worker that stored the result but died before its ack leaves the message behind:
    message = TaskMessage(done.uuid, "once", (), {}, 0, "default", done.created_at.timestamp())
    await app.broker.send(
        [OutgoingMessage(done.uuid, "default", 0, message.encode(app.serializer))]
    )
    async with app.running():
        with anyio.fail_after(5):
            while app.broker.depth("default") or app.broker.in_flight:  # type: ignore[attr-defined]
                await anyio.sleep(0.005)
    assert runs == ["run"]
    final = await app.get(done.uuid)
    assert final is not None and final.status == "success"


async def test_a_custom_executor_per_task(app: QueueTasks) -> None:
    class Doubling(TaskExecutor):
        async def execute(self, call: TaskCall) -> Outcome:
            value = call.definition.func(*call.args, **call.kwargs)
            return Outcome(TaskStatus.SUCCESS, returning=value * 2)

    @app.task(executor=Doubling())
    def three() -> int:
        return 3

    class Broken(TaskExecutor):
        async def execute(self, call: TaskCall) -> Outcome:
            raise RuntimeError("executor bug")

    @app.task(executor=Broken())
    def never() -> None:
        return None

    async with app.running():
        assert (await app.add_task("three", timeout=5)).returning == 6
        broken = await app.add_task("never", timeout=5)
    assert broken.status == "error"
    assert broken.error == "executor Broken failed: RuntimeError('executor bug')"


async def test_records_are_bound_to_their_app(app: QueueTasks) -> None:
    @app.task
    def job() -> None:
        return None

    task = await app.add_task("job")
    assert isinstance(task, Task)
    with pytest.raises(RuntimeError, match="await task.wait_result_async"):
        task.wait_result(1)  # on the event loop thread: blocking is refused


async def test_a_generator_yielding_what_cannot_be_stored_fails_alone(app: QueueTasks) -> None:
    @app.task
    async def odd() -> AsyncIterator[object]:
        yield "fine"
        yield object()

    @app.task
    async def ok() -> str:
        return "still working"

    async with app.running():
        failed = await app.add_task("odd", timeout=5)
        fine = await app.add_task("ok", timeout=5)  # the worker was not blocked by it
    assert failed.status == "error"
    assert failed.error is not None
    assert "task 'odd' yielded a object, which JsonSerializer cannot store" in failed.error
    assert failed.progress == ["fine"]
    assert fine.returning == "still working"


async def test_a_record_that_cannot_be_encoded_does_not_block_its_batch(app: QueueTasks) -> None:
    from qtasks import Plugin

    class Spoiler(Plugin):
        def before_storage_save(self, task: Task) -> Task | None:
            if task.task_name == "spoiled" and task.status == "success":
                task.headers = {"bad": object()}
            return None

    app.add_plugin(Spoiler())

    @app.task
    def spoiled() -> int:
        return 1

    @app.task
    def clean() -> int:
        return 2

    async with app.running():
        first = await app.add_task("spoiled")
        second = await app.add_task("clean", timeout=5)
        broken = await first.wait_result_async(5)
    assert second.returning == 2
    assert broken.status == "error"
    assert broken.error is not None
    assert "cannot be encoded by JsonSerializer" in broken.error


async def test_requeued_dead_letters_run_again(app: QueueTasks) -> None:
    runs: list[int] = []

    @app.task
    def fragile() -> str:
        runs.append(1)
        return "ran"

    queued = await app.add_task("fragile")
    broker = app.broker
    assert isinstance(broker, MemoryBroker)
    (delivery,) = await broker.receive([queued.queue], 1, 1)
    for _ in range(5):  # as if five workers died holding it
        await broker.nack([delivery])
        (delivery,) = await broker.receive([queued.queue], 1, 1)
    await broker.nack([delivery])
    async with app.running(max_deliveries=5):
        dead = await queued.wait_result_async(5)
    assert dead.status == "error"
    assert dead.error is not None
    assert dead.error.startswith("dead-lettered: delivered 7 times")
    assert runs == []
    assert await app.requeue_dead() == 1
    assert (await app.get(queued.uuid)).status == "new"  # type: ignore[union-attr]
    async with app.running(max_deliveries=5):
        again = await queued.wait_result_async(5)
    assert again.status == "success"
    assert again.returning == "ran"
    assert runs == [1]
    assert await app.requeue_dead() == 0
