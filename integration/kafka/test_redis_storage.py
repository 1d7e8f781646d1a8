"""Kafka as the broker, Redis as the storage, producer and worker as separate apps.

The package's own tests run producer and worker in one app with the in-memory storage opted
in (qtasks-kafka's suite installs only the package and core); these are the same promises in
the shape of a deployment, where only the shared storage connects the processes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from qtasks.asyncio import QueueTasks
from qtasks.exceptions import Retry
from qtasks.task import TaskStatus
from qtasks_kafka import KafkaBroker
from qtasks_redis import RedisStorage

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

#: Short group timings: Tansu holds a new group's first join for half the session timeout.
FAST = "session_timeout=1.5&heartbeat_interval=0.3&rebalance_grace=0.5"


@dataclass
class Apps:
    producer: QueueTasks
    worker: QueueTasks
    observer: QueueTasks


@pytest.fixture
async def apps(kafka_url: str, redis_url: str, app_name: str) -> AsyncIterator[Apps]:
    """Three apps of one name that share only Kafka and Redis, as three processes would."""
    broker = kafka_url + ("&" if "?" in kafka_url else "?") + FAST
    made = Apps(*(QueueTasks(app_name, broker=broker, storage=redis_url) for _ in range(3)))
    yield made
    for app in (made.producer, made.worker, made.observer):
        await app.stop()
        await app.broker.stop()  # management calls after the worker stopped reconnect it


async def test_results_errors_and_retries_cross_apps_through_redis(apps: Apps) -> None:
    assert isinstance(apps.producer.broker, KafkaBroker)
    assert isinstance(apps.producer.storage, RedisStorage)
    calls = {"n": 0}

    @apps.worker.task(name="add")
    async def add(a: int, b: int) -> int:
        return a + b

    @apps.worker.task(name="flaky", retry=2, retry_backoff=0)
    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise Retry("not yet", delay=0.2)
        return "ok"

    @apps.worker.task(name="broken")
    def broken() -> None:
        raise ValueError("always")

    async with apps.worker.running(concurrency=4):
        done = await apps.producer.add_task("add", 2, 3, timeout=30)
        many = await apps.producer.add_tasks("add", [(n, n) for n in range(5)])
        retried = await apps.producer.add_task("flaky", timeout=30)
        failed = await apps.producer.add_task("broken", timeout=30)
        batch = [await apps.observer.wait_result(t.uuid, 30) for t in many]
    assert (done.status, done.returning) == (TaskStatus.SUCCESS, 5)
    assert [t.returning for t in batch] == [0, 2, 4, 6, 8]
    assert (retried.status, retried.returning, retried.retries) == (TaskStatus.SUCCESS, "ok", 2)
    assert [a.status for a in retried.attempts] == [
        TaskStatus.RETRY,
        TaskStatus.RETRY,
        TaskStatus.SUCCESS,
    ]
    assert (failed.status, failed.error) == (TaskStatus.ERROR, "ValueError: always")
    for task in (done, retried, failed):
        assert await apps.observer.get(task.uuid) == task


async def test_a_task_cancelled_by_the_producer_is_skipped_by_the_worker(apps: Apps) -> None:
    """Kafka cannot remove the record: the cancel travels through the shared storage."""
    ran: list[str] = []

    @apps.worker.task(name="job")
    async def job(name: str) -> None:
        ran.append(name)

    skipped = await apps.producer.add_task("job", "skipped")
    assert await apps.producer.cancel(skipped.uuid, "changed my mind") is True
    async with apps.worker.running(concurrency=1):
        kept = await apps.producer.add_task("job", "kept", timeout=30)
    assert kept.status is TaskStatus.SUCCESS
    assert ran == ["kept"]
    record = await apps.observer.get(skipped.uuid)
    assert record is not None
    assert (record.status, record.cancel_reason) == (TaskStatus.CANCEL, "changed my mind")
