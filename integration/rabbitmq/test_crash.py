"""A worker SIGKILLed mid-task: RabbitMQ redelivers, another worker finishes, retries show it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import anyio
import pytest

from qtasks.asyncio import QueueTasks
from qtasks.task import TaskStatus

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_a_killed_worker_task_completes_on_another(
    amqp_url: str, app_name: str, spawn_worker, tmp_path: Path
) -> None:
    producer = QueueTasks(app_name, broker=amqp_url)  # no storage: direct reply-to
    first = spawn_worker(app_name, concurrency=2)
    try:
        # The worker answers: it is consuming.
        ping = await producer.add_task("whoami", timeout=30)
        assert ping.returning == first.pid

        marker = tmp_path / "started"
        task = await producer.add_task("hang_once", str(marker))
        with anyio.fail_after(20):
            while not marker.exists():
                await anyio.sleep(0.05)
        assert int(marker.read_text()) == first.pid
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)

        killed_at = time.monotonic()
        second = spawn_worker(app_name, concurrency=2)
        done = await producer.wait_result(task.uuid, timeout=30)
        assert done.status is TaskStatus.SUCCESS
        assert done.returning == second.pid  # finished by the other worker
        assert done.retries == 1  # the redelivery is visible on the task
        assert time.monotonic() - killed_at < 30
        # Nothing is left over or duplicated: a fresh task still runs once.
        assert (await producer.add_task("add", 2, 2, timeout=30)).returning == 4
    finally:
        await producer.stop()


async def test_with_redis_storage_the_record_shows_the_crash_and_the_finish(
    amqp_url: str, app_name: str, storage_url: str, spawn_worker
) -> None:
    """The same crash with results in a shared Redis: every process reads the same record."""
    producer = QueueTasks(app_name, broker=amqp_url, storage=storage_url)
    observer = QueueTasks(app_name, broker=amqp_url, storage=storage_url)  # another process
    first = spawn_worker(app_name, concurrency=2, storage=storage_url)
    try:
        assert (await producer.add_task("whoami", timeout=30)).returning == first.pid
        task = await producer.add_task("hang_first")
        with anyio.fail_after(20):
            while (record := await observer.get(task.uuid)) is None or record.status != "process":
                await anyio.sleep(0.05)
        assert record.retries == 0
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)

        second = spawn_worker(app_name, concurrency=2, storage=storage_url)
        done = await producer.wait_result(task.uuid, timeout=30)
        assert (done.status, done.returning, done.retries) == (TaskStatus.SUCCESS, second.pid, 1)
        assert await observer.get(task.uuid) == done
    finally:
        await producer.stop()
        await observer.stop()
