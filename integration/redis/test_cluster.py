"""qtasks-redis on a real Redis Cluster: three masters started by the ``cluster_url`` fixture.

The same code as on one server, with ``?cluster=true`` in the URL: core's three conformance
suites, then a whole app (several queues served by one worker, bulk enqueue, results waited
for through cluster-wide pub/sub, cancel, a delayed task, a dead letter), then the key layout
on the nodes: one queue's keys in one slot, task records spread over the cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import anyio
import pytest
from redis.cluster import RedisCluster as SyncRedisCluster

from qtasks.asyncio import QueueTasks
from qtasks.interfaces.broker import OutgoingMessage
from qtasks.serializers.json import JsonSerializer
from qtasks.task import TaskStatus
from qtasks.testing.conformance import (
    BrokerConformance,
    GlobalConfigConformance,
    StorageConformance,
)
from qtasks.testing.conformance.broker import BrokerFactory
from qtasks.testing.conformance.global_config import GlobalConfigFactory
from qtasks.testing.conformance.storage import StorageFactory
from qtasks_redis import RedisBroker, RedisBrokerError, RedisGlobalConfig, RedisStorage, keys

pytestmark = pytest.mark.integration


class TestClusterBroker(BrokerConformance):
    redelivery_within = 6.0

    @pytest.fixture
    def broker_factory(self, cluster_url: str) -> BrokerFactory:
        return lambda: RedisBroker(cluster_url, visibility_timeout=1.0)


class TestClusterStorage(StorageConformance):
    shortest_ttl = 0.2

    @pytest.fixture
    def storage_factory(self, cluster_url: str) -> StorageFactory:
        return lambda: RedisStorage(cluster_url)


class TestClusterGlobalConfig(GlobalConfigConformance):
    @pytest.fixture
    def global_config_factory(self, cluster_url: str) -> GlobalConfigFactory:
        return lambda: RedisGlobalConfig(cluster_url)


@pytest.fixture
def raw(cluster_url: str) -> Iterator[SyncRedisCluster]:
    """A plain cluster client, standing for redis-cli or another program."""
    client = SyncRedisCluster.from_url(cluster_url.split("?", 1)[0])
    yield client
    client.close()


@pytest.mark.anyio
async def test_an_app_runs_on_the_cluster(cluster_url: str, raw: SyncRedisCluster) -> None:
    name = f"cl-{uuid.uuid4().hex[:8]}"
    app = QueueTasks(name, broker=f"{cluster_url}&visibility_timeout=5")
    ran: list[str] = []

    @app.task(name="echo")
    async def echo(label: str) -> str:
        ran.append(label)
        return label.upper()

    try:
        # Queued before any worker: bulk enqueue over three queues, one to cancel, one late.
        batch = await app.add_tasks("echo", [(f"a{i}",) for i in range(120)], queue="alpha")
        batch += await app.add_tasks("echo", [(f"b{i}",) for i in range(60)], queue="beta")
        doomed = await app.add_task("echo", "doomed", queue="gamma")
        assert await app.cancel(doomed.uuid, "changed my mind") is True
        loaded = await app.storage.get_many([t.uuid for t in batch])
        assert [t.uuid for t in loaded if t is not None] == [t.uuid for t in batch]

        # Garbage written straight into a queue by another program ends as a dead letter.
        gamma = keys.queue_keys(name, "gamma")
        raw.zadd(gamma.ready, {b"\xffnot a task": 2})
        raw.rpush(gamma.wake, 1)

        queues = ["alpha", "beta", "gamma"]
        async with app.running(concurrency=20, queues=queues, fetch_timeout=30):
            for task in batch:
                done = await app.wait_result(task.uuid, timeout=20)
                assert done.status is TaskStatus.SUCCESS, done
            with anyio.fail_after(15):
                while not await app.broker.dead_letters("gamma"):
                    await anyio.sleep(0.05)
            # The worker now blocks on three wake lists in three slots; a delayed task and
            # a plain one on another queue must each wake it well before fetch_timeout.
            await anyio.sleep(0.3)
            with anyio.fail_after(10):
                later = await app.add_task("echo", "later", queue="beta", delay=0.5)
                late = await app.wait_result(later.uuid, timeout=10)
                now = await app.add_task("echo", "now", queue="gamma", timeout=5)
            assert now.returning == "NOW"
        assert late.returning == "LATER"
        assert late.started_at is not None and late.eta is not None
        assert late.started_at >= late.eta

        assert sorted(ran) == sorted([t.args[0] for t in batch] + ["later", "now"])
        await app.start()  # the worker stopped the components on its way out
        cancelled = await app.get(doomed.uuid)
        assert cancelled is not None and cancelled.status is TaskStatus.CANCEL
        (dead,) = await app.broker.dead_letters("gamma")
        assert dead.body == b"\xffnot a task"
        assert "decode" in dead.reason
        assert await app.broker.requeue_dead("gamma") == 1
        (stats,) = await app.broker.stats(["gamma"])
        assert (stats.ready, stats.dead) == ({2: 1}, 0)
        assert sorted(await app.broker.known_queues()) == queues
        assert await app.storage.delete([t.uuid for t in batch[:50]]) == 50
        assert await app.storage.get_many([t.uuid for t in batch[:3]]) == [None, None, None]
    finally:
        await app.stop()


@pytest.mark.anyio
async def test_a_queue_lives_in_one_slot_and_records_spread(
    cluster_url: str, raw: SyncRedisCluster
) -> None:
    name = f"cl-{uuid.uuid4().hex[:8]}"
    app = QueueTasks(name, broker=cluster_url)
    try:
        records = await app.add_tasks("anything", [() for _ in range(200)], queue="q")
        queue = keys.queue_keys(name, "q")
        slot = keys.hash_slot(queue.ready)
        assert {raw.keyslot(k) for k in queue.all()} == {slot}
        assert raw.zcard(queue.ready) == 200
        owners = {raw.get_node_from_key(keys.task_key(name, t.uuid)).name for t in records}
        assert len(owners) == len(raw.get_primaries())  # no node holds every record
        for record in records[:5]:
            stored = raw.get(keys.task_key(name, record.uuid))
            assert stored is not None and stored.startswith(b"new|")
    finally:
        await app.stop()


@pytest.mark.anyio
async def test_a_waiter_listens_on_the_node_that_publishes_its_result(
    cluster_url: str, raw: SyncRedisCluster
) -> None:
    # Every node hears a PUBLISH, but the ones the script does not run on hear it late, over
    # the cluster bus; so the waiter subscribes on the node that owns the record.
    name = f"cl-{uuid.uuid4().hex[:8]}"
    app = QueueTasks(name, broker=cluster_url)

    @app.task(name="echo")
    async def echo(value: int) -> int:
        return value

    try:
        tasks = await app.add_tasks("echo", [(i,) for i in range(12)])
        results: dict[str, int] = {}

        async def wait(uuid_: str) -> None:
            results[uuid_] = (await app.wait_result(uuid_, timeout=20)).returning

        async with anyio.create_task_group() as group:
            for task in tasks:
                group.start_soon(wait, task.uuid)
            await anyio.sleep(0.3)  # every waiter has subscribed
            for task in tasks:
                channel = keys.done_channel(name, task.uuid)
                owner = raw.get_node_from_key(keys.task_key(name, task.uuid))
                for node in raw.get_primaries():
                    ((_, listeners),) = raw.execute_command(
                        "PUBSUB NUMSUB", channel, target_nodes=node
                    )
                    assert listeners == (1 if node.name == owner.name else 0), node
            async with app.running(concurrency=4):
                with anyio.fail_after(20):
                    while len(results) < len(tasks):
                        await anyio.sleep(0.02)
        assert results == {t.uuid: t.args[0] for t in tasks}
    finally:
        await app.stop()


@pytest.mark.anyio
async def test_a_url_that_does_not_match_the_server_says_how_to_fix_it(
    cluster_url: str, redis_url: str, raw: SyncRedisCluster
) -> None:
    plain_url = cluster_url.replace("?cluster=true", "")
    named = f"127.0.0.1:{plain_url.rsplit(':', 1)[1].split('/')[0]}"
    # A queue whose keys live on another node than the one the URL names.
    queue = next(
        f"q{i}"
        for i in range(100)
        if raw.get_node_from_key(keys.queue_keys("mismatch", f"q{i}").ready).name != named
    )
    plain = RedisBroker(plain_url)
    plain.bind("mismatch", JsonSerializer())
    await plain.start()
    try:
        with pytest.raises(RedisBrokerError, match=r"MOVED .*add \?cluster=true to the URL"):
            await plain.send([OutgoingMessage("u1", queue, 0, b"x")])
    finally:
        await plain.stop()
    separator = "&" if "?" in redis_url else "?"
    clustered = QueueTasks("mismatch", broker=f"{redis_url}{separator}cluster=true")
    try:
        with pytest.raises(RedisBrokerError, match="not a Redis Cluster: drop cluster=true"):
            await clustered.add_task("anything")
    finally:
        await clustered.stop()
