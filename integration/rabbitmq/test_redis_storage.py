"""RabbitMQ as the broker, Redis as the storage: the deployment the package docs recommend.

Moved here from the package's own tests, where a MemoryStorage shared by two apps in one
process stood for Redis: qtasks-rabbitmq's test suite installs only the package and core.
"""

from __future__ import annotations

import pytest

from qtasks.asyncio import QueueTasks
from qtasks.task import TaskStatus
from qtasks_redis import RedisStorage

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_shared_storage_with_a_separate_worker(
    amqp_url: str, app_name: str, storage_url: str
) -> None:
    """Given a storage, results go there; a producer with no storage still gets its reply."""
    producer = QueueTasks(app_name, broker=amqp_url, storage=storage_url)
    worker = QueueTasks(app_name, broker=amqp_url, storage=storage_url)
    observer = QueueTasks(app_name, broker=amqp_url, storage=storage_url)
    bare = QueueTasks(app_name, broker=amqp_url)  # no storage: direct reply-to
    assert isinstance(producer.storage, RedisStorage)

    @worker.task(name="double")
    def double(x: int) -> int:
        return 2 * x

    @worker.task(name="broken")
    def broken() -> None:
        raise ValueError("always")

    try:
        async with worker.running(concurrency=2):
            done = await producer.add_task("double", 21, timeout=10)
            failed = await producer.add_task("broken", timeout=10)
            replied = await bare.add_task("double", 4, timeout=10)
        assert done.returning == 42
        assert (failed.status, failed.error) == (TaskStatus.ERROR, "ValueError: always")
        # Any app on the same storage reads the same records: the worker, another process.
        assert await worker.get(done.uuid) == done
        assert await observer.get(done.uuid) == done
        assert await observer.wait_result(failed.uuid, timeout=1) == failed
        assert replied.returning == 8
    finally:
        for application in (producer, worker, observer, bare):
            await application.stop()
