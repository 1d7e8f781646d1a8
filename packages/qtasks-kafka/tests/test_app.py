"""The app on a Kafka broker, producer and worker in one process (memory storage opted in).

The same promises with producer and worker as separate apps on a shared Redis storage are in
integration/kafka/ (this suite installs only qtasks-kafka and core).
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import AsyncIterator

import anyio
import pytest

from qtasks import QueueTasks as SyncQueueTasks
from qtasks.asyncio import QueueTasks
from qtasks.exceptions import ConfigurationError, Retry
from qtasks.interfaces.broker import OutgoingMessage
from qtasks.memory import MemoryStorage
from qtasks.task import TaskStatus
from qtasks_kafka import KafkaBroker, KafkaConfigurationError

pytestmark = pytest.mark.anyio

FAST = {"session_timeout": 1.5, "heartbeat_interval": 0.3, "rebalance_grace": 0.5}


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def app(kafka_url: str) -> AsyncIterator[QueueTasks]:
    broker = KafkaBroker.from_url(kafka_url, allow_memory_storage=True, **FAST)
    application = QueueTasks(fresh("app"), broker=broker)
    yield application
    await application.stop()
    await broker.stop()  # management calls after the worker stopped the app reconnect it


def test_memory_storage_is_refused_at_construction_naming_the_fix() -> None:
    with pytest.raises(KafkaConfigurationError) as caught:
        QueueTasks("x", broker="kafka://127.0.0.1:9092")
    message = str(caught.value)
    assert "storage='redis://" in message
    assert "allow_memory_storage" in message
    assert isinstance(caught.value, ConfigurationError)
    with pytest.raises(ConfigurationError, match="shared storage"):
        SyncQueueTasks("x", broker=KafkaBroker("127.0.0.1:9092"))


async def test_an_explicit_memory_storage_is_refused_when_producing(kafka_url: str) -> None:
    app = QueueTasks(fresh("app"), broker=KafkaBroker.from_url(kafka_url), storage=MemoryStorage())
    try:
        with pytest.raises(KafkaConfigurationError, match="shared storage"):
            await app.add_task("anything")
    finally:
        await app.stop()


async def test_the_opt_in_accepts_memory_storage_from_the_url(kafka_url: str) -> None:
    app = QueueTasks(fresh("app"), broker=f"{kafka_url}?allow_memory_storage=true")
    assert isinstance(app.storage, MemoryStorage)
    assert isinstance(app.broker, KafkaBroker)


async def test_tasks_run_and_results_come_back(app: QueueTasks) -> None:
    @app.task
    async def add(a: int, b: int) -> int:
        return a + b

    @app.task
    def shout(word: str) -> str:
        return word.upper()

    async with app.running(concurrency=4):
        done = await add.add_task(2, 3, timeout=30)
        assert (done.status, done.returning) == (TaskStatus.SUCCESS, 5)
        many = await app.add_tasks("shout", [("a",), ("b",), ("c",)])
        results = [await app.wait_result(t.uuid, 30) for t in many]
    assert [r.returning for r in results] == ["A", "B", "C"]


async def test_out_of_order_completion_commits_only_finished_offsets(app: QueueTasks) -> None:
    """A slow first task holds the commit point back while later ones finish."""
    release = anyio.Event()

    @app.task
    async def slow() -> str:
        await release.wait()
        return "slow"

    @app.task
    async def quick(n: int) -> int:
        return n

    async with app.running(concurrency=5) as worker:
        blocker = await slow.add_task()
        fast = [await quick.add_task(n) for n in range(3)]
        for task in fast:
            assert (await app.wait_result(task.uuid, 30)).status is TaskStatus.SUCCESS
        broker = app.broker
        assert isinstance(broker, KafkaBroker)
        (stats,) = await broker.stats([app.default_queue])
        assert stats.in_flight == 1  # the slow one; the quick ones wait behind it, finished
        assert stats.total_ready == 0
        release.set()
        assert (await app.wait_result(blocker.uuid, 30)).returning == "slow"
        assert worker.processed == 4


async def test_retries_travel_through_delay_topics(app: QueueTasks) -> None:
    attempts: list[float] = []

    @app.task(retry=2, retry_backoff=0)
    async def flaky() -> str:
        attempts.append(time.time())
        if len(attempts) < 3:
            raise Retry("not yet", delay=0.5)
        return "ok"

    async with app.running(concurrency=2):
        done = await flaky.add_task(timeout=60)
    assert (done.status, done.returning, done.retries) == (TaskStatus.SUCCESS, "ok", 2)
    assert [a.status for a in done.attempts] == [
        TaskStatus.RETRY,
        TaskStatus.RETRY,
        TaskStatus.SUCCESS,
    ]
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(gap >= 0.45 for gap in gaps), gaps


async def test_a_delayed_task_waits(app: QueueTasks) -> None:
    @app.task
    async def stamp() -> float:
        return time.time()

    async with app.running(concurrency=2):
        queued_at = time.time()
        task = await stamp.add_task(delay=1.5)
        done = await app.wait_result(task.uuid, 60)
    assert done.returning >= queued_at + 1.45


async def test_undecodable_bytes_are_dead_lettered_with_the_reason(app: QueueTasks) -> None:
    broker = app.broker
    assert isinstance(broker, KafkaBroker)
    await app.start()
    await broker.send([OutgoingMessage("", app.default_queue, 0, b"\xff not json")])
    async with app.running(concurrency=1):
        with anyio.fail_after(30):
            while not await broker.dead_letters(app.default_queue):
                await anyio.sleep(0.1)
    (dead,) = await broker.dead_letters(app.default_queue)
    assert dead.body == b"\xff not json"
    assert "cannot decode" in dead.reason
    (stats,) = await broker.stats([app.default_queue])
    assert stats.dead == 1
