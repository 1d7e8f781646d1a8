"""What only a Redis Cluster (``?cluster=true``) does, here on a one-node cluster.

Record batches split by slot, one BLPOP per queue for an idle worker on several queues,
scripts loaded on every node, hints when the URL does not match the server. The conformance
suites run on this cluster from test_conformance.py; three nodes: integration/redis/test_cluster.py.
"""

from __future__ import annotations

import uuid

import anyio
import pytest
from redis.asyncio.cluster import RedisCluster

from qtasks.asyncio import QueueTasks
from qtasks.interfaces.broker import OutgoingMessage
from qtasks.serializers.json import JsonSerializer
from qtasks.task import Task, TaskStatus
from qtasks_redis import RedisBroker, RedisBrokerError, RedisStorage


@pytest.mark.anyio
async def test_a_worker_on_several_queues_waits_on_each_and_wakes_for_any(
    cluster_url: str,
) -> None:
    app = QueueTasks(f"c-{uuid.uuid4().hex[:8]}", broker=cluster_url)

    @app.task(name="echo")
    async def echo(value: str) -> str:
        return value

    try:
        async with app.running(concurrency=4, queues=["a", "b", "c"], fetch_timeout=30):
            await anyio.sleep(0.2)  # idle: one BLPOP per queue is waiting now
            with anyio.fail_after(10):  # far less than fetch_timeout
                for queue in ("c", "a", "b", "c"):
                    done = await app.add_task("echo", queue, queue=queue, timeout=5)
                    assert done.returning == queue
                later = await app.add_task("echo", "later", queue="b", delay=0.3)
                assert (await app.wait_result(later.uuid, timeout=5)).returning == "later"
    finally:
        await app.stop()


@pytest.mark.anyio
async def test_records_of_many_slots_are_written_read_and_deleted(cluster_url: str) -> None:
    storage = RedisStorage(cluster_url)
    storage.bind(f"c-{uuid.uuid4().hex[:8]}", JsonSerializer())
    await storage.start()
    try:
        uuids = [f"r{i}" for i in range(300)]
        done = [Task(uuid=u, task_name="t", status=TaskStatus.SUCCESS) for u in uuids[::2]]
        await storage.save(done)
        batch = [Task(uuid=u, task_name="t", status=TaskStatus.NEW) for u in uuids]
        written = await storage.save(batch, only_if={TaskStatus.NEW})
        assert written == [i % 2 == 1 for i in range(300)]
        got = await storage.get_many([*uuids, "missing"])
        assert [t.status if t else None for t in got] == [
            TaskStatus.SUCCESS if i % 2 == 0 else TaskStatus.NEW for i in range(300)
        ] + [None]
        assert await storage.delete([*uuids[:100], "missing"]) == 100
        assert await storage.get_many(uuids[:2]) == [None, None]
    finally:
        await storage.stop()


@pytest.mark.anyio
async def test_scripts_are_loaded_again_on_a_node_that_forgot_them(cluster_url: str) -> None:
    broker = RedisBroker(cluster_url)
    broker.bind(f"c-{uuid.uuid4().hex[:8]}", JsonSerializer())
    await broker.start()
    try:
        await broker.send([OutgoingMessage("u1", "q", 0, b"one")])
        client = broker.connection.client
        assert isinstance(client, RedisCluster)
        await client.execute_command("SCRIPT", "FLUSH", target_nodes=client.get_nodes())
        await broker.send([OutgoingMessage("u2", "q", 0, b"two")])
        got = await broker.receive(["q"], 10, 2)
        assert [d.body for d in got] == [b"one", b"two"]
        await broker.ack(got)
    finally:
        await broker.stop()


@pytest.mark.anyio
async def test_cluster_true_against_a_single_server_says_to_drop_it(redis_url: str) -> None:
    separator = "&" if "?" in redis_url else "?"
    app = QueueTasks("mismatch", broker=f"{redis_url}{separator}cluster=true")
    try:
        with pytest.raises(RedisBrokerError, match="not a Redis Cluster: drop cluster=true"):
            await app.add_task("anything")
    finally:
        await app.stop()
