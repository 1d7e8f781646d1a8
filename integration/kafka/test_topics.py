"""What lands in Kafka itself: dead letters with the reason header, retries in delay topics.

Task records live in a shared Redis storage, where the test reads how each task ended.
"""

from __future__ import annotations

import time

import anyio
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from qtasks.asyncio import QueueTasks
from qtasks.exceptions import Retry
from qtasks.task import Task, TaskStatus
from qtasks_kafka import KafkaBroker

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def read_topic(url: str, topic: str) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    """Every record of partition 0 of ``topic``: key, value and headers."""
    consumer = AIOKafkaConsumer(bootstrap_servers=url.removeprefix("kafka://"), group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        out = []
        for _ in range(10):
            batch = await consumer.getmany(tp, timeout_ms=300)
            out += [(r.key, r.value, dict(r.headers)) for r in batch.get(tp, [])]
        return out
    finally:
        await consumer.stop()


async def produce(url: str, storage: str, name: str, task: str, label: str) -> str:
    app = QueueTasks(name, broker=url, storage=storage)
    try:
        return (await app.add_task(task, label)).uuid
    finally:
        await app.stop()


async def result(url: str, storage: str, name: str, uuid: str) -> Task:
    app = QueueTasks(name, broker=url, storage=storage)
    try:
        return await app.wait_result(uuid, 30)
    finally:
        await app.stop()


def test_a_task_that_kills_every_worker_is_dead_lettered_after_max_deliveries(workers) -> None:  # type: ignore[no-untyped-def]
    where = (workers.url, workers.storage, workers.name)
    task_uuid = anyio.run(produce, *where, "die", "poison")
    dead_topic = f"qtasks.{workers.name}.default.dead"
    deadline = time.monotonic() + 150
    letters: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []
    while time.monotonic() < deadline and not letters:
        if all(p.poll() is not None for p in workers.processes):
            workers.start(max_deliveries=2)
        time.sleep(0.5)
        letters = anyio.run(read_topic, workers.url, dead_topic)
    assert letters, workers.logs()[-4000:]
    ((key, value, headers),) = letters
    assert key == task_uuid.encode()
    assert task_uuid.encode() in value  # the task message itself, untouched
    assert headers["qtasks-queue"] == b"default"
    assert headers["qtasks-uuid"] == task_uuid.encode()
    reason = headers["qtasks-reason"].decode()
    assert "delivered 3 times without finishing (max_deliveries=2)" in reason
    # The record in the shared storage says the same: two crashes, then set aside unrun.
    record = anyio.run(result, *where, task_uuid)
    assert record.status is TaskStatus.ERROR
    assert record.error is not None and "max_deliveries=2" in record.error
    assert record.retries == 2


@pytest.mark.anyio
async def test_a_retry_goes_through_a_delay_topic(
    kafka_url: str, redis_url: str, app_name: str
) -> None:
    broker = KafkaBroker.from_url(kafka_url, session_timeout=3.0, heartbeat_interval=0.5)
    app = QueueTasks(app_name, broker=broker, storage=redis_url)
    calls: list[float] = []

    @app.task(retry=1)
    async def once_more() -> int:
        calls.append(time.time())
        if len(calls) == 1:
            raise Retry("again", delay=2.5)
        return len(calls)

    try:
        async with app.running(concurrency=1):
            done = await once_more.add_task(timeout=60)
    finally:
        await app.stop()
        await broker.stop()
    assert (done.status, done.returning) == (TaskStatus.SUCCESS, 2)
    assert calls[1] - calls[0] >= 2.45
    prefix = f"qtasks.{app.name}.default"
    # 2.5 s: two steps of 1 s, then the last half second in the 1 s topic until the exact
    # due time (two hops only if the forwarder ran half a second late).
    hops = await read_topic(kafka_url, f"{prefix}.delay-1s")
    assert len(hops) in (2, 3)
    assert {key for key, _, _ in hops} == {done.uuid.encode()}
    for _, value, headers in hops:
        assert b'"attempt":2' in value.replace(b" ", b"")
        assert float(headers["qtasks-release"]) <= float(headers["qtasks-eta"])
    ready = await read_topic(kafka_url, prefix)
    assert [key for key, _, _ in ready] == [done.uuid.encode()] * 2  # first attempt, then retry
