"""A worker SIGKILLed mid-task: its tasks complete on another worker after the rebalance.

Results are checked through marker files the tasks write (see crash_worker.py): with a shared
storage (qtasks-redis) these tests should also assert through ``app.get``.
"""

from __future__ import annotations

import json
import signal
import time

import anyio
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from qtasks.asyncio import QueueTasks
from qtasks_kafka import KafkaBroker

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


async def produce(url: str, name: str, task: str, labels: list[str]) -> list[str]:
    app = QueueTasks(name, broker=KafkaBroker.from_url(url, allow_memory_storage=True))
    try:
        return [(await app.add_task(task, label)).uuid for label in labels]
    finally:
        await app.stop()


def test_sigkilled_worker_tasks_finish_on_the_survivor(workers) -> None:  # type: ignore[no-untyped-def]
    first, second = workers.start(), workers.start()
    group = f"qtasks.{workers.name}"
    workers.wait_for(
        lambda: anyio.run(group_members, workers.url, group) == 2, 60, "both workers in the group"
    )
    uuids = anyio.run(produce, workers.url, workers.name, "hold", ["a", "b", "c"])
    workers.wait_for(
        lambda: len(workers.markers("first")) == 3, 60, "all three tasks running on one worker"
    )
    owners = {(workers.folder / f"first-{u}").read_text() for u in uuids}
    assert len(owners) == 1, owners  # one partition: one worker holds all three
    victim = first if str(first.pid) in owners else second
    survivor = second if victim is first else first
    assert str(victim.pid) in owners
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    killed_at = time.monotonic()
    workers.wait_for(
        lambda: len(workers.markers("done")) == 3, 90, "the survivor to finish the three tasks"
    )
    for uuid in uuids:
        done = json.loads((workers.folder / f"done-{uuid}").read_text())
        assert done["pid"] == survivor.pid
        assert done["retries"] >= 1  # delivered a second time, and the count shows it
    assert time.monotonic() - killed_at < 90
    assert survivor.poll() is None
