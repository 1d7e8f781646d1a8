"""At-least-once delivery against a real Redis, with real worker processes."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

import anyio
import pytest
import redis

from qtasks.asyncio import QueueTasks
from qtasks.interfaces.broker import OutgoingMessage
from qtasks.message import TaskMessage
from qtasks.task import TaskStatus
from qtasks_redis import keys

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

#: The ``spawn`` fixture (conftest.py): starts worker_app.py in a subprocess.
Spawn = Callable[..., subprocess.Popen[bytes]]


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


async def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.05)


async def test_a_killed_worker_loses_nothing(redis_url: str, name: str, spawn: Spawn) -> None:
    side = client(redis_url)
    fast = ("--visibility-timeout", "1.5", "--heartbeat-interval", "0.3")
    first = spawn(redis_url, name, *fast)
    app = QueueTasks(name, broker=redis_url)
    published: list[bytes] = []
    try:
        task = await app.add_task("crashy")
        listener = side.pubsub()
        listener.subscribe(keys.done_channel(name, task.uuid))
        await wait_for(lambda: side.get(f"{name}:runs") == b"1")
        first.send_signal(signal.SIGKILL)  # mid-task: no ack, no hand-back
        first.wait(10)
        spawn(redis_url, name, *fast)
        done = await app.wait_result(task.uuid, timeout=30)
        assert done.status is TaskStatus.SUCCESS
        assert done.returning == 2  # the second run finished it
        assert done.retries == 1  # the extra delivery shows
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            message = listener.get_message(timeout=0.1)
            if message and message["type"] == "message":
                published.append(message["data"])
        listener.close()
        assert len(published) == 1  # the result was stored (and announced) once
        assert side.get(f"{name}:runs") == b"2"
        await app.start()
        (stats,) = await app.broker.stats(["default"])
        assert (stats.total_ready, stats.delayed, stats.in_flight, stats.dead) == (0, 0, 0, 0)
    finally:
        await app.stop()
        side.close()


async def test_twenty_thousand_tasks_three_workers(redis_url: str, name: str, spawn: Spawn) -> None:
    side = client(redis_url)
    app = QueueTasks(name, broker=redis_url)
    total = 20_000
    try:
        records = []
        for _ in range(total // 5000):
            records += await app.add_tasks("record", [() for _ in range(5000)])
        began = time.monotonic()
        for _ in range(3):
            spawn(redis_url, name, "--concurrency", "50")
        await wait_for(lambda: side.llen(f"{name}:ran") >= total, timeout=150)
        elapsed = time.monotonic() - began
        ran = [u.decode() for u in side.lrange(f"{name}:ran", 0, -1)]
        wanted = {r.uuid for r in records}
        duplicates = len(ran) - len(set(ran))
        print(
            f"\nload: {total} tasks, 3 worker processes, {elapsed:.1f} s "
            f"({total / elapsed:,.0f} tasks/s), duplicate executions: {duplicates}"
        )
        assert set(ran) == wanted
        await app.start()
        for start in range(0, total, 5000):
            chunk = await app.storage.get_many([r.uuid for r in records[start : start + 5000]])
            assert all(t is not None and t.status is TaskStatus.SUCCESS for t in chunk)
    finally:
        await app.stop()
        side.close()


async def test_malformed_bytes_end_in_the_dead_letter_set(
    redis_url: str, name: str, spawn: Spawn
) -> None:
    side = client(redis_url)
    queue = keys.queue_keys(name, "default")
    # What `redis-cli ZADD 'qtasks:{app:default}:ready' 0 '...'` would do.
    side.zadd(queue.ready, {b"{not json": 0, b'{"v":1,"task":"record"}': 0})
    side.rpush(queue.wake, 1)
    spawn(redis_url, name)
    app = QueueTasks(name, broker=redis_url)
    try:
        await app.start()
        with anyio.fail_after(30):
            while len(dead := await app.broker.dead_letters("default")) < 2:
                await anyio.sleep(0.1)
        reasons = {d.body: d.reason for d in dead}
        assert "cannot decode" in reasons[b"{not json"]
        assert "missing field 'uuid'" in reasons[b'{"v":1,"task":"record"}']
        (stats,) = await app.broker.stats(["default"])
        assert (stats.total_ready, stats.in_flight, stats.dead) == (0, 0, 2)
    finally:
        await app.stop()
        side.close()


async def test_too_many_deliveries_end_in_the_dead_letter_set(
    redis_url: str, name: str, spawn: Spawn
) -> None:
    app = QueueTasks(name, broker=redis_url)
    try:
        await app.start()
        message = TaskMessage(
            uuid="looping",
            task_name="record",
            args=(),
            kwargs={},
            priority=0,
            queue="default",
            created_at=time.time(),
        )
        body = message.encode(app.serializer)
        await app.storage.save([message.record(TaskStatus.NEW)])
        await app.broker.send([OutgoingMessage("looping", "default", 0, body)])
        for _ in range(2):  # two deliveries that never finish (as two crashed workers)
            (delivery,) = await app.broker.receive(["default"], 1, 5)
            await app.broker.nack([delivery])
        spawn(redis_url, name, "--max-deliveries", "2")
        record = await app.wait_result("looping", timeout=30)
        assert record.status is TaskStatus.ERROR
        assert record.error is not None and "max_deliveries=2" in record.error
        (dead,) = await app.broker.dead_letters("default")
        assert dead.uuid == "looping"
        assert "delivered 3 times" in dead.reason
    finally:
        await app.stop()
