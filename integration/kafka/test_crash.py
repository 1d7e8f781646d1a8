"""A worker SIGKILLed mid-task: its tasks complete on another worker after the rebalance.

Producer, workers and test share a Redis storage, as a real deployment would: which worker
runs a task, how often it was delivered and its result are read through ``app.get`` and
``wait_result``.
"""

from __future__ import annotations

import signal
import time

import anyio
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from qtasks.asyncio import QueueTasks
from qtasks.task import Task, TaskStatus

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def group_members(url: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=url.removeprefix("kafka://"))
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        (entry,) = response.groups
        return len(entry[-1]) if entry[2] == "Stable" else 0
    finally:
        await admin.close()


async def produce(url: str, storage: str, name: str, task: str, labels: list[str]) -> list[str]:
    app = QueueTasks(name, broker=url, storage=storage)
    try:
        return [(await app.add_task(task, label)).uuid for label in labels]
    finally:
        await app.stop()


async def records(url: str, storage: str, name: str, uuids: list[str]) -> list[Task | None]:
    """What the shared storage says about ``uuids``, read by an app of its own."""
    app = QueueTasks(name, broker=url, storage=storage)
    try:
        return [await app.get(uuid) for uuid in uuids]
    finally:
        await app.stop()


async def results(
    url: str, storage: str, name: str, uuids: list[str], timeout: float
) -> list[Task]:
    app = QueueTasks(name, broker=url, storage=storage)
    try:
        return [await app.wait_result(uuid, timeout) for uuid in uuids]
    finally:
        await app.stop()


def test_sigkilled_worker_tasks_finish_on_the_survivor(workers) -> None:  # type: ignore[no-untyped-def]
    first, second = workers.start(), workers.start()
    group = f"qtasks.{workers.name}"
    where = (workers.url, workers.storage, workers.name)
    workers.wait_for(
        lambda: anyio.run(group_members, workers.url, group) == 2, 60, "both workers in the group"
    )
    uuids = anyio.run(produce, *where, "hold", ["a", "b", "c"])

    def all_running() -> bool:
        found = anyio.run(records, *where, uuids)
        return all(r is not None and r.status is TaskStatus.PROCESS and r.progress for r in found)

    workers.wait_for(all_running, 60, "all three tasks running")
    owners = {r.progress[0] for r in anyio.run(records, *where, uuids) if r is not None}
    assert len(owners) == 1, owners  # one partition: one worker holds all three
    victim = first if first.pid in owners else second
    survivor = second if victim is first else first
    assert victim.pid in owners
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    killed_at = time.monotonic()
    done = anyio.run(results, *where, uuids, 90)
    for task in done:
        assert task.status is TaskStatus.SUCCESS, workers.logs()[-4000:]
        assert task.returning == survivor.pid
        assert task.retries >= 1  # delivered a second time, and the count shows it
        assert task.progress == [survivor.pid]  # a new attempt starts a new progress
    assert time.monotonic() - killed_at < 90
    assert survivor.poll() is None
