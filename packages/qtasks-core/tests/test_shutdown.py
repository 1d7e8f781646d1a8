"""Stopping a worker: stop fetching, let running tasks finish, hand the rest back."""

from __future__ import annotations

import time

import anyio
import pytest

from qtasks import ConfigurationError
from qtasks.asyncio import QueueTasks
from qtasks.interfaces import Worker
from qtasks.memory import MemoryBroker
from qtasks.worker import QueueWorker

pytestmark = pytest.mark.anyio


async def ready_count(app: QueueTasks) -> int:
    (stats,) = await app.broker.stats([app.default_queue])
    return stats.total_ready


async def test_graceful_stop_lets_running_tasks_finish(app: QueueTasks) -> None:
    started = anyio.Event()

    @app.task
    async def almost_done() -> str:
        started.set()
        await anyio.sleep(0.2)
        return "finished during shutdown"

    queued = await app.add_task("almost_done")
    async with anyio.create_task_group() as group:
        worker: Worker = await group.start(app.serve)
        await started.wait()
        worker.stop()
        assert worker.running is False
    done = await app.get(queued.uuid)
    assert done is not None
    assert done.status == "success"
    assert done.returning == "finished during shutdown"


async def test_waiting_tasks_go_back_to_the_broker_untouched(app: QueueTasks) -> None:
    started = anyio.Event()
    ran: list[int] = []

    @app.task
    async def step(n: int) -> None:
        ran.append(n)
        started.set()
        await anyio.sleep(0.1)

    records = await app.add_tasks("step", [(i,) for i in range(6)])
    async with anyio.create_task_group() as group:
        worker = await group.start(lambda **kw: app.serve(concurrency=1, prefetch=5, **kw))
        await started.wait()
        worker.stop()
    assert ran == [0]  # five were prefetched, none of them started
    assert await ready_count(app) == 5
    statuses = [(await app.get(r.uuid)).status for r in records]  # type: ignore[union-attr]
    assert statuses == ["success"] + ["new"] * 5
    async with app.running():
        finished = [await r.wait_result_async(5) for r in records[1:]]
    assert [t.status for t in finished] == ["success"] * 5
    assert [t.retries for t in finished] == [0] * 5  # a prefetch handed back is no delivery
    assert sorted(ran) == list(range(6))


async def test_tasks_running_past_the_grace_period_are_interrupted_and_handed_back(
    app: QueueTasks,
) -> None:
    started = anyio.Event()
    attempts: list[float] = []

    @app.task
    async def stubborn() -> str:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            started.set()
            await anyio.sleep(30)
        return "second run"

    queued = await app.add_task("stubborn")
    async with anyio.create_task_group() as group:
        worker = await group.start(lambda **kw: app.serve(shutdown_timeout=0.2, **kw))
        await started.wait()
        stopping = time.monotonic()
        worker.stop()
    assert time.monotonic() - stopping < 5
    record = await app.get(queued.uuid)
    assert record is not None
    assert record.status == "new"  # back in the queue, not lost and not failed
    assert record.started_at is None
    assert await ready_count(app) == 1
    async with app.running():
        done = await queued.wait_result_async(5)
    assert done.returning == "second run"
    assert done.retries == 1  # the redelivery is visible


async def test_a_second_stop_interrupts_at_once(app: QueueTasks) -> None:
    started = anyio.Event()

    @app.task
    async def forever() -> None:
        started.set()
        await anyio.sleep(60)

    queued = await app.add_task("forever")
    async with anyio.create_task_group() as group:
        worker = await group.start(lambda **kw: app.serve(shutdown_timeout=60, **kw))
        await started.wait()
        worker.stop()  # graceful: would wait up to 60 s
        await anyio.sleep(0.05)
        begun = time.monotonic()
        worker.stop()  # the second request stops now
    assert time.monotonic() - begun < 5
    record = await app.get(queued.uuid)
    assert record is not None
    assert record.status == "new"


async def test_worker_options_are_checked() -> None:
    for bad in ({"concurrency": 0}, {"prefetch": -1}, {"max_deliveries": 0}):
        with pytest.raises(ConfigurationError, match=next(iter(bad))):
            QueueWorker(**bad)  # type: ignore[arg-type]


async def test_a_worker_given_to_the_app_refuses_extra_options() -> None:
    app = QueueTasks("given", broker=MemoryBroker(), worker=QueueWorker(concurrency=2))
    with pytest.raises(ConfigurationError, match="set concurrency on that worker instead"):
        async with app.running(concurrency=5):
            pass
    await app.stop()


async def test_one_worker_cannot_serve_twice(app: QueueTasks) -> None:
    worker = QueueWorker()
    async with anyio.create_task_group() as group:
        await group.start(worker.serve, app)
        with pytest.raises(RuntimeError, match="already serving"):
            await worker.serve(app)
        worker.stop()


async def test_an_error_in_the_body_of_running_propagates_as_itself(app: QueueTasks) -> None:
    with pytest.raises(KeyError, match="mine"):
        async with app.running():
            raise KeyError("mine")
