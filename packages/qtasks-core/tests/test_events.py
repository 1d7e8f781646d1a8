from __future__ import annotations

import logging
import threading

import anyio
import pytest

from qtasks import QueueTasks as SyncQueueTasks
from qtasks import Task
from qtasks.asyncio import QueueTasks
from qtasks.plugins import EventsPlugin

pytestmark = pytest.mark.anyio


async def test_every_event_fires(app: QueueTasks) -> None:
    journal: list[str] = []
    loop_thread = threading.get_ident()
    threads: list[bool] = []

    @app.events.on.starting()
    async def starting() -> None:
        journal.append("starting")

    @app.events.on.stopping()
    def stopping() -> None:
        threads.append(threading.get_ident() != loop_thread)  # plain callbacks use a thread
        journal.append("stopping")

    @app.events.on.task_success()
    async def success(task: Task) -> None:
        journal.append(f"success {task.task_name} {task.returning}")

    @app.events.on.task_error()
    def error(task: Task) -> None:
        journal.append(f"error {task.task_name} {task.error}")

    @app.events.on.task_cancel()
    async def cancel(task: Task) -> None:
        journal.append(f"cancel {task.task_name} {task.cancel_reason}")

    @app.task
    async def ok() -> int:
        return 1

    @app.task(retry=1, retry_backoff=0)
    async def bad() -> None:
        raise ValueError("nope")

    @app.task(echo=True)
    async def quits(self: object) -> None:
        self.ctx.cancel("bye")  # type: ignore[attr-defined]

    async with app.running():
        assert journal == ["starting"]
        await app.add_task("ok", timeout=5)
        await app.add_task("bad", timeout=5)
        await app.add_task("quits", timeout=5)
    assert journal == [
        "starting",
        "success ok 1",
        "error bad ValueError: nope (gave up after 2 attempt(s) (retry=1))",  # once, not per try
        "cancel quits bye",
        "stopping",
    ]
    assert threads == [True]
    assert stopping in app.events.callbacks("stopping")


async def test_task_cancel_fires_for_tasks_that_never_started(app: QueueTasks) -> None:
    cancelled: list[str] = []
    started = anyio.Event()

    @app.events.on.task_cancel()
    async def on_cancel(task: Task) -> None:
        cancelled.append(f"{task.task_name}:{task.cancel_reason}")

    @app.task
    async def gate() -> None:
        started.set()
        await anyio.sleep(0.3)

    @app.task
    async def later() -> None:
        return None

    queued = await app.add_task("later", delay=60)
    assert await app.cancel(queued.uuid, "queued")  # settled by the app: no worker involved
    async with app.running(concurrency=1, prefetch=1):
        await app.add_task("gate")
        held = await app.add_task("later")  # fetched by the busy worker, not started
        await started.wait()
        for _ in range(100):
            record = await app.get(held.uuid)
            if record is not None and record.status == "process":
                break
            await anyio.sleep(0.01)
        assert await app.cancel(held.uuid, "held")
        done = await held.wait_result_async(5)
    assert done.status == "cancel"
    assert cancelled == ["later:queued", "later:held"]


async def test_the_events_plugin_joins_on_first_use_and_tasks_pay_only_when_watched(
    app: QueueTasks,
) -> None:
    @app.task
    async def job() -> None:
        return None

    assert app.plugins.get(EventsPlugin) is None

    @app.events.on.starting()
    async def starting() -> None:
        return None

    plugin = app.plugins.get(EventsPlugin)
    assert plugin is not None
    assert not app.plugins.for_task(job.definition).after_attempt

    @app.events.on.task_error()
    async def failed(task: Task) -> None:
        return None

    assert app.plugins.get(EventsPlugin) is plugin  # added once
    assert [h.plugin for h in app.plugins.for_task(job.definition).after_attempt] == [plugin]


async def test_a_failing_callback_is_logged_and_the_others_run(
    app: QueueTasks, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    @app.events.on.task_success()
    def broken(task: Task) -> None:
        raise RuntimeError("callback bug")

    @app.events.on.task_success()
    async def fine(task: Task) -> None:
        seen.append(task.task_name)

    @app.task
    async def job() -> str:
        return "done"

    async with app.running():
        done = await app.add_task("job", timeout=5)
    assert done.status == "success" and seen == ["job"]
    assert any(
        r.name == "qtasks.events" and r.getMessage().startswith("task_success callback")
        for r in caplog.records
        if r.levelno == logging.ERROR
    )


async def test_event_registration_is_checked(app: QueueTasks) -> None:
    with pytest.raises(ValueError, match="unknown event 'started'"):
        app.events.add("started", lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be callable"):
        app.events.add("starting", 3)  # type: ignore[arg-type]


def test_the_sync_app_has_the_same_events(sync_app: SyncQueueTasks) -> None:
    journal: list[str] = []

    @sync_app.events.on.task_success()
    def done(task: Task) -> None:
        # Plain callbacks run in a worker thread, where the blocking API is allowed.
        journal.append(f"{task.task_name}: {sync_app.get(task.uuid) is not None}")

    @sync_app.task
    def add(a: int, b: int) -> int:
        return a + b

    with sync_app.running():
        assert sync_app.add_task("add", 1, 2, timeout=5).returning == 3
    assert journal == ["add: True"]
