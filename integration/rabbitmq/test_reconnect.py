"""RabbitMQ closes the connection under a running app: it reconnects and loses nothing.

The connection is closed from the server side with ``rabbitmqctl close_connection`` (the
shared server keeps running); where rabbitmqctl is not available, the client's socket is
torn down instead, which looks the same to the client as a network failure. Each test runs
twice: results by direct reply-to, and in a shared Redis storage read by another app.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Sequence

import anyio
import pytest

from qtasks.asyncio import QueueTasks
from qtasks.task import TaskStatus
from qtasks_rabbitmq import RabbitMQBroker

from .conftest import rabbitmqctl

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(params=["reply-to", "redis"])
def storage(request: pytest.FixtureRequest) -> str | None:
    """Where results go: None (direct reply-to) or the shared Redis (keys cleaned up)."""
    if request.param == "reply-to":
        return None
    url: str = request.getfixturevalue("storage_url")
    return url


async def check_shared_records(
    amqp_url: str, app_name: str, storage: str | None, uuids: Sequence[str], expected: list[int]
) -> None:
    """With a shared storage, an app of its own reads every task back as finished."""
    if storage is None:
        return
    reader = QueueTasks(app_name, broker=amqp_url, storage=storage)
    try:
        records = [await reader.get(uuid) for uuid in uuids]
    finally:
        await reader.stop()
    assert all(r is not None and r.status is TaskStatus.SUCCESS for r in records)
    assert [r.returning for r in records if r is not None] == expected


def _server_close(connection_name: str) -> bool:
    """Close our connection from the server; ``False`` if rabbitmqctl cannot do it here."""
    binary = rabbitmqctl()
    if binary is None:
        return False
    listing = subprocess.run(
        [binary, "list_connections", "-q", "pid", "client_properties"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    pids = [
        line.split("\t", 1)[0] for line in listing.stdout.splitlines() if connection_name in line
    ]
    if listing.returncode != 0 or len(pids) != 1:
        return False
    closed = subprocess.run(
        [binary, "close_connection", pids[0], "qtasks reconnect test"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return closed.returncode == 0


async def _force_close(broker: RabbitMQBroker, connection_name: str) -> None:
    if await anyio.to_thread.run_sync(_server_close, connection_name):
        return
    connection = broker._link.connection
    assert connection is not None and connection.transport is not None
    writer = connection.transport.connection.writer
    assert writer is not None
    writer.transport.abort()  # as if the network dropped


async def test_reconnect_without_losing_tasks(
    amqp_url: str, app_name: str, storage: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    connection_name = f"qtasks-reconnect-{uuid.uuid4().hex}"
    broker = RabbitMQBroker(amqp_url, connection_name=connection_name)
    app = QueueTasks(app_name, broker=broker, storage=storage)
    seen: list[int] = []

    @app.task
    async def collect(n: int) -> int:
        seen.append(n)
        await anyio.sleep(0.01)
        return n

    try:
        async with app.running(concurrency=4):
            before = [await app.add_task("collect", n) for n in range(20)]
            await app.wait_result(before[-1].uuid, timeout=30)
            await _force_close(broker, connection_name)
            # Publishing through the reconnect: send retries until RabbitMQ confirms.
            after = [await app.add_task("collect", n) for n in range(20, 60)]
            results = [await app.wait_result(t.uuid, timeout=60) for t in before + after]
        assert all(r.status is TaskStatus.SUCCESS for r in results)
        assert sorted(r.returning for r in results) == list(range(60))
        assert set(seen) == set(range(60))  # every task ran (a redelivered one may run twice)
        assert "reconnected to RabbitMQ" in caplog.text
        uuids = [t.uuid for t in before + after]
        await check_shared_records(amqp_url, app_name, storage, uuids, list(range(60)))
    finally:
        await app.stop()


async def test_a_worker_reconnects_and_keeps_consuming(
    amqp_url: str, app_name: str, storage: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker's connection is closed, once idle and once busy; a producer keeps going."""
    connection_name = f"qtasks-reconnect-{uuid.uuid4().hex}"
    worker = QueueTasks(
        app_name,
        broker=RabbitMQBroker(amqp_url, connection_name=connection_name),
        storage=storage,
    )
    producer = QueueTasks(app_name, broker=amqp_url, storage=storage)

    release = anyio.Event()
    runs: list[int] = []

    @worker.task(name="square")
    async def square(n: int) -> int:
        runs.append(n)
        await release.wait()  # held until the connection has been closed under it
        return n * n

    try:
        async with worker.running(concurrency=8):
            release.set()
            first = await producer.add_task("square", 3, timeout=30)
            assert first.returning == 9
            broker = worker.broker
            assert isinstance(broker, RabbitMQBroker)
            await _force_close(broker, connection_name)  # idle: nothing in flight
            with anyio.fail_after(30):
                while caplog.text.count("reconnected to RabbitMQ") < 1:
                    await anyio.sleep(0.05)
            release = anyio.Event()
            queued = await producer.add_tasks("square", [(n,) for n in range(100)])
            with anyio.fail_after(30):
                while not broker._prefetcher.outstanding:
                    await anyio.sleep(0.01)
            await _force_close(broker, connection_name)  # busy: deliveries in flight
            with anyio.fail_after(30):
                while caplog.text.count("reconnected to RabbitMQ") < 2:
                    await anyio.sleep(0.05)
            release.set()
            results = [await producer.wait_result(t.uuid, timeout=60) for t in queued]
        assert [r.returning for r in results] == [n * n for n in range(100)]
        # Tasks running through the reconnect kept their (redelivered) messages: none ran twice.
        assert sorted(runs) == sorted([3, *range(100)])
        expected = [n * n for n in range(100)]
        await check_shared_records(amqp_url, app_name, storage, [t.uuid for t in queued], expected)
    finally:
        release.set()
        await producer.stop()
        await worker.stop()
