"""Redis itself goes away under a running worker and comes back."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import anyio
import pytest
import redis

from qtasks.asyncio import QueueTasks
from qtasks.task import TaskStatus
from qtasks.testing.servers import RedisServer

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

#: The ``spawn`` fixture (conftest.py): starts worker_app.py in a subprocess.
Spawn = Callable[..., subprocess.Popen[bytes]]


async def test_the_worker_recovers_from_a_redis_restart(
    private_redis: RedisServer, spawn: Spawn
) -> None:
    url = private_redis.url
    name = "restart"
    options = ("--concurrency", "5", "--visibility-timeout", "2", "--heartbeat-interval", "0.5")
    spawn(url, name, *options)
    app = QueueTasks(name, broker=f"{url}?visibility_timeout=2")
    side = redis.Redis.from_url(url)
    try:
        records = await app.add_tasks("pause", [(0.02,) for _ in range(300)])
        last = records[-1].uuid
        results: list[TaskStatus] = []
        async with anyio.create_task_group() as group:

            async def wait_through_the_outage() -> None:
                # Subscribed before the restart: must still see the result afterwards.
                results.append((await app.wait_result(last, timeout=90)).status)

            group.start_soon(wait_through_the_outage)
            with anyio.fail_after(30):
                while True:
                    record = await app.storage.get(records[40].uuid)
                    if record is not None and record.status is TaskStatus.SUCCESS:
                        break
                    await anyio.sleep(0.05)
            side.save()  # the snapshot the restarted server loads: part of the queue is done
            private_redis.stop()  # SIGKILL: in-flight work and later writes are lost
            await anyio.sleep(1.0)  # the worker sees the outage
            private_redis.start()
        assert results == [TaskStatus.SUCCESS]
        with anyio.fail_after(60):
            while True:
                got = await app.storage.get_many([r.uuid for r in records])
                if all(t is not None and t.status is TaskStatus.SUCCESS for t in got):
                    break
                await anyio.sleep(0.2)
        (stats,) = await app.broker.stats(["default"])
        assert (stats.total_ready, stats.delayed, stats.in_flight) == (0, 0, 0)
    finally:
        await app.stop()
        side.close()
