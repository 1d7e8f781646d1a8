"""The RabbitMQ broker under a real app and worker: results, retries, priorities, delays."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import anyio
import pytest

from qtasks.asyncio import QueueTasks
from qtasks.interfaces.broker import Delivery
from qtasks.task import TaskStatus
from qtasks_rabbitmq import DirectReplyStorage, RabbitMQBroker, SharedStorageRequiredError

pytestmark = pytest.mark.anyio

Cleanup = Callable[[RabbitMQBroker], None]


def make_app(name: str, url: str, cleanup: Cleanup, **options: object) -> QueueTasks:
    broker = RabbitMQBroker(url)
    cleanup(broker)
    return QueueTasks(name, broker=broker, **options)  # type: ignore[arg-type]


@pytest.fixture
async def app(fresh_name: str, amqp_url: str, cleanup: Cleanup) -> AsyncIterator[QueueTasks]:
    application = make_app(fresh_name, amqp_url, cleanup)
    yield application
    await application.stop()
    await application.broker.stop()  # a broker used after its worker stopped starts again


async def test_url_selects_the_rabbitmq_broker_and_reply_storage(amqp_url: str) -> None:
    application = QueueTasks("url-check", broker=amqp_url)
    assert isinstance(application.broker, RabbitMQBroker)
    assert isinstance(application.storage, DirectReplyStorage)
    assert application.storage.broker is application.broker


async def test_round_trip_in_one_process(app: QueueTasks) -> None:
    @app.task
    async def add(a: int, b: int) -> int:
        return a + b

    async with app.running(concurrency=4):
        done = await app.add_task("add", 2, 3, timeout=10)
    assert (done.status, done.returning) == (TaskStatus.SUCCESS, 5)
    assert done.retries == 0


async def test_results_cross_processes_by_direct_reply_to(
    fresh_name: str, amqp_url: str, cleanup: Cleanup
) -> None:
    """Two apps with their own connections stand for a producer and a worker process."""
    producer = make_app(fresh_name, amqp_url, cleanup)
    worker = make_app(fresh_name, amqp_url, cleanup)

    @worker.task(name="shout")
    def shout(word: str) -> str:
        return word.upper()

    try:
        async with worker.running(concurrency=2):
            done = await producer.add_task("shout", "hello", timeout=10)
            many = await producer.add_tasks("shout", [("a",), ("b",), ("c",)])
            results = [await producer.wait_result(t.uuid, timeout=10) for t in many]
        assert (done.status, done.returning) == (TaskStatus.SUCCESS, "HELLO")
        assert [r.returning for r in results] == ["A", "B", "C"]
        assert (await producer.get(done.uuid)) is not None  # the producer keeps its records
        with pytest.raises(SharedStorageRequiredError, match="needs a shared storage"):
            await worker.get(done.uuid)
        with pytest.raises(SharedStorageRequiredError, match="storage='redis://"):
            await worker.wait_result(done.uuid, timeout=1)
    finally:
        await producer.stop()
        await worker.stop()


async def test_errors_and_retries_come_back_too(
    fresh_name: str, amqp_url: str, cleanup: Cleanup
) -> None:
    producer = make_app(fresh_name, amqp_url, cleanup)
    worker = make_app(fresh_name, amqp_url, cleanup)
    calls = {"n": 0}

    @worker.task(name="flaky", retry=2, retry_backoff=0.05)
    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise OSError("not yet")
        return "ok"

    @worker.task(name="broken")
    def broken() -> None:
        raise ValueError("always")

    try:
        async with worker.running(concurrency=2):
            ok = await producer.add_task("flaky", timeout=10)
            bad = await producer.add_task("broken", timeout=10)
        assert (ok.status, ok.returning, ok.retries) == (TaskStatus.SUCCESS, "ok", 2)
        assert [a.status for a in ok.attempts][:2] == [TaskStatus.RETRY, TaskStatus.RETRY]
        assert bad.status is TaskStatus.ERROR
        assert "always" in (bad.error or "")
    finally:
        await producer.stop()
        await worker.stop()


async def test_priorities_run_lower_numbers_first(app: QueueTasks) -> None:
    order: list[int] = []

    @app.task
    async def record(n: int) -> None:
        order.append(n)

    for n, priority in [(1, 5), (2, 0), (3, -5), (4, 0), (5, 3)]:
        await app.add_task("record", n, priority=priority)
    async with app.running(concurrency=1, prefetch=0) as worker:
        with anyio.fail_after(10):
            while worker.processed < 5:  # type: ignore[attr-defined]
                await anyio.sleep(0.02)
    assert order == [3, 2, 4, 5, 1]


async def test_delayed_tasks_wait_and_short_ones_overtake_long_ones(app: QueueTasks) -> None:
    finished: list[tuple[str, float]] = []
    start = time.time()

    @app.task
    async def mark(label: str) -> None:
        finished.append((label, time.time() - start))

    long = await app.add_task("mark", "long", delay=1.5)
    short = await app.add_task("mark", "short", delay=0.3)
    async with app.running(concurrency=2):
        await app.wait_result(long.uuid, timeout=15)
        await app.wait_result(short.uuid, timeout=15)
    labels = [label for label, _ in finished]
    took = dict(finished)
    assert labels == ["short", "long"]
    assert took["short"] >= 0.3
    assert took["long"] >= 1.5


async def test_undecodable_bytes_are_dead_lettered_with_the_reason(app: QueueTasks) -> None:
    @app.task
    def noop() -> None:
        return None

    broker = app.broker
    assert isinstance(broker, RabbitMQBroker)
    await app.start()
    await broker.send([_raw(b"\xff\x00 not json", app.default_queue)])
    async with app.running(concurrency=1):
        with anyio.fail_after(10):
            while not await broker.dead_letters():
                await anyio.sleep(0.05)
    (dead,) = await broker.dead_letters()
    assert dead.body == b"\xff\x00 not json"
    assert dead.queue == app.default_queue
    assert "cannot decode" in dead.reason


def _raw(body: bytes, queue: str):  # type: ignore[no-untyped-def]
    from qtasks.interfaces.broker import OutgoingMessage

    return OutgoingMessage("", queue, 0, body)


async def test_a_message_past_max_deliveries_is_dead_lettered_and_reported(
    fresh_name: str, amqp_url: str, cleanup: Cleanup
) -> None:
    """A message whose earlier copies were delivered too often (a worker-killing task)."""
    producer = make_app(fresh_name, amqp_url, cleanup)
    worker = make_app(fresh_name, amqp_url, cleanup)

    @worker.task(name="poison")
    def poison() -> None:
        return None

    broker = producer.broker
    assert isinstance(broker, RabbitMQBroker)
    queued = await producer.add_task("poison")
    # Take it and hand it back until its count passes the worker's max_deliveries (2), on a
    # connection of its own that stops consuming afterwards.
    taker = RabbitMQBroker(amqp_url)
    taker.bind(fresh_name, producer.serializer)
    for _ in range(2):
        (delivery,) = await _take(taker, producer.default_queue)
        await taker.nack([delivery])
    await taker.stop()
    try:
        async with worker.running(concurrency=1, max_deliveries=2):
            done = await producer.wait_result(queued.uuid, timeout=10)
        assert done.status is TaskStatus.ERROR
        assert "delivered 3 times" in (done.error or "")
        (dead,) = await broker.dead_letters(producer.default_queue)
        assert dead.uuid == queued.uuid
        assert "max_deliveries=2" in dead.reason
    finally:
        await producer.stop()
        await worker.stop()


async def _take(broker: RabbitMQBroker, queue: str) -> list[Delivery]:
    with anyio.fail_after(10):
        while True:
            got = await broker.receive([queue], 1, 1)
            if got:
                return list(got)


async def test_an_unroutable_publish_is_an_error(app: QueueTasks) -> None:
    from qtasks_rabbitmq import UnroutableMessageError

    @app.task
    def noop() -> None:
        return None

    await app.add_task("noop")  # declares the queue and remembers it
    broker = app.broker
    assert isinstance(broker, RabbitMQBroker)
    channel = await broker._plain_channel()
    await channel.queue_delete(broker.names.queue(app.default_queue))  # behind its back
    with pytest.raises(UnroutableMessageError, match="could not route"):
        await app.add_task("noop")
    done = await app.add_task("noop")  # the next publish declares the queue again
    assert done.status is TaskStatus.NEW


async def test_a_message_arriving_early_is_sent_through_the_delay_levels_again(
    amqp_url: str, fresh_name: str, cleanup: Cleanup
) -> None:
    """What a delay beyond the ~49.7-day reach of the levels (or a far clock) looks like."""
    from qtasks_rabbitmq._link import Out
    from qtasks_rabbitmq._wire import task_properties

    broker = RabbitMQBroker(amqp_url)
    cleanup(broker)
    broker.bind(fresh_name, QueueTasks(fresh_name).serializer)
    await broker.start()
    try:
        due = time.time() + 2.5
        properties = task_properties(uuid="early", priority=0, max_priority=10, eta=due)
        await broker._topology.queue("q")
        await broker._publish([Out("", broker.names.queue("q"), b"x", properties, "q")], 5)
        assert await broker.receive(["q"], 5, 0.5) == []  # taken, seen early, sent back
        with anyio.fail_after(10):
            (stats,) = await broker.stats(["q"])
            while stats.delayed != 1:
                (stats,) = await broker.stats(["q"])
        got = await _take(broker, "q")
        assert time.time() >= due
        assert [(d.uuid, d.delivery_count) for d in got] == [("early", 1)]
        await broker.ack(got)
    finally:
        await broker.stop()
