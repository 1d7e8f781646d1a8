"""The Redis components behind a real app: wiring, ordering, delays, cancel, cleanup."""

from __future__ import annotations

import anyio
import pytest
import redis

from qtasks.asyncio import QueueTasks
from qtasks.task import TaskStatus
from qtasks_redis import RedisBroker, RedisGlobalConfig, RedisStorage, keys


@pytest.mark.anyio
async def test_one_url_gives_all_three_components_on_one_pool(app: QueueTasks) -> None:
    assert isinstance(app.broker, RedisBroker)
    assert isinstance(app.storage, RedisStorage)
    assert isinstance(app.global_config, RedisGlobalConfig)
    assert app.storage.connection is app.broker.connection

    @app.task
    async def add(a: int, b: int) -> int:
        return a + b

    async with app.running(concurrency=4):
        done = await app.add_task(add, 2, 3, timeout=10)
    assert done.status is TaskStatus.SUCCESS
    assert done.returning == 5


@pytest.mark.anyio
async def test_another_process_sees_records_and_results(
    app: QueueTasks, redis_url: str, name: str
) -> None:
    other = QueueTasks(name, broker=redis_url)

    @app.task(name="echo")
    def echo(value: str) -> str:
        return value

    try:
        task = await other.add_task("echo", "hi")
        async with app.running(concurrency=2):
            done = await other.wait_result(task.uuid, timeout=10)
        assert done.returning == "hi"
        assert (await app.get(task.uuid)) == done
    finally:
        await other.stop()


@pytest.mark.anyio
async def test_priorities_then_fifo_through_a_worker(app: QueueTasks) -> None:
    order: list[str] = []

    @app.task(name="note")
    async def note(label: str) -> None:
        order.append(label)

    for label, priority in [("c", 5), ("a", 1), ("d", 5), ("b", 1), ("z", -1)]:
        await app.add_task("note", label, priority=priority)
    last = await app.add_task("note", "e", priority=9)
    async with app.running(concurrency=1, prefetch=0):
        await app.wait_result(last.uuid, timeout=10)
    assert order == ["z", "a", "b", "c", "d", "e"]


@pytest.mark.anyio
async def test_a_delayed_task_wakes_an_idle_worker_on_time(app: QueueTasks) -> None:
    @app.task(name="later")
    async def later() -> str:
        return "ok"

    # The worker blocks for at most its fetch_timeout (60 s) between fetches; the task is
    # due in 0.5 s and must not wait for that timeout.
    async with app.running(concurrency=1, fetch_timeout=60):
        await anyio.sleep(0.2)  # the worker is blocked in BLPOP now
        task = await app.add_task("later", delay=0.5)
        done = await app.wait_result(task.uuid, timeout=10)
    assert done.returning == "ok"
    assert done.started_at is not None and done.eta is not None
    assert done.started_at >= done.eta


@pytest.mark.anyio
async def test_cancel_a_queued_task_from_another_process(
    app: QueueTasks, redis_url: str, name: str
) -> None:
    ran: list[str] = []

    @app.task(name="job")
    async def job(label: str) -> None:
        ran.append(label)

    doomed = await app.add_task("job", "doomed")
    kept = await app.add_task("job", "kept")
    other = QueueTasks(name, broker=redis_url)
    try:
        assert await other.cancel(doomed.uuid, "not needed") is True
    finally:
        await other.stop()
    async with app.running(concurrency=1):
        await app.wait_result(kept.uuid, timeout=10)
    record = await app.get(doomed.uuid)
    assert record is not None
    assert record.status is TaskStatus.CANCEL
    assert record.cancel_reason == "not needed"
    assert ran == ["kept"]


@pytest.mark.anyio
async def test_finished_work_leaves_no_bookkeeping(
    redis_url: str, name: str, raw: redis.Redis
) -> None:
    app = QueueTasks(name, broker=f"{redis_url}?result_ttl=30")

    @app.task(name="flaky", retry=2, retry_backoff=0)
    async def flaky(*, fail: bool) -> str:
        if fail:
            raise ValueError("boom")
        return "ok"

    try:
        ok = await app.add_task("flaky", fail=False)
        bad = await app.add_task("flaky", fail=True)
        # The worker's registration lives three heartbeats (3 s here): long
        # enough that a slow CI machine cannot let it lapse between the scan
        # and the PTTL read, short enough to prove it is not kept forever.
        async with app.running(concurrency=2, heartbeat_interval=1):
            await app.wait_result(ok.uuid, timeout=10)
            await app.wait_result(bad.uuid, timeout=10)
            workers = list(raw.scan_iter(match=keys.config_key(name, "worker:*")))
            assert workers and all(0 < raw.pttl(k) <= 3000 for k in workers)
        queue = keys.queue_keys(name, "default")
        for key in (queue.ready, queue.delayed, queue.inflight, queue.body, queue.index):
            assert raw.exists(key) == 0, key
        assert raw.exists(queue.redeliver) == 0
        for uuid in (ok.uuid, bad.uuid):
            assert 0 < raw.pttl(keys.task_key(name, uuid)) <= 30_000
        assert raw.llen(queue.wake) <= 1
    finally:
        await app.stop()


@pytest.mark.anyio
async def test_raw_bytes_pushed_by_another_program(
    app: QueueTasks, name: str, raw: redis.Redis
) -> None:
    seen: list[int] = []

    @app.task(name="count")
    async def count(n: int) -> None:
        seen.append(n)

    queue = keys.queue_keys(name, "default")
    # A well-formed message written by hand runs; garbage is dead-lettered with its reason.
    message = (
        b'{"v":1,"uuid":"hand-1","task":"count","args":[7],"kwargs":{},"priority":0,'
        b'"queue":"default","created_at":1700000000.0,"attempt":1}'
    )
    raw.zadd(queue.ready, {message: 0, b"\xffnot a task": 3})
    raw.rpush(queue.wake, 1)
    async with app.running(concurrency=2):
        await app.wait_result("hand-1", timeout=10)
        with anyio.fail_after(10):
            while not await app.broker.dead_letters("default"):
                await anyio.sleep(0.05)
    assert seen == [7]
    await app.start()  # the worker stopped the components on its way out
    (dead,) = await app.broker.dead_letters("default")
    assert dead.body == b"\xffnot a task"
    assert "decode" in dead.reason
    assert dead.priority == 3
    assert dead.uuid is None


@pytest.mark.anyio
async def test_the_dead_letter_stream_is_bounded(
    redis_url: str, name: str, raw: redis.Redis
) -> None:
    broker = RedisBroker(redis_url, dead_letter_max=3, dead_letter_ttl=60)
    broker.bind(name, broker.serializer)
    await broker.start()
    try:
        from qtasks.interfaces.broker import OutgoingMessage

        await broker.send([OutgoingMessage(f"u{i}", "q", 0, b"x%d" % i) for i in range(5)])
        got = await broker.receive(["q"], 5, 2)
        for delivery in got:
            await broker.dead_letter(delivery, "test")
        dead = await broker.dead_letters("q")
        assert [d.body for d in dead] == [b"x2", b"x3", b"x4"]
        assert 0 < raw.pttl(keys.queue_keys(name, "q").dead) <= 60_000
        (stats,) = await broker.stats(["q"])
        assert stats.dead == 3
        assert stats.in_flight == 0
    finally:
        await broker.stop()


@pytest.mark.anyio
async def test_a_stale_receipt_does_not_touch_a_redelivered_message(
    redis_url: str, name: str
) -> None:
    from qtasks.interfaces.broker import OutgoingMessage

    broker = RedisBroker(redis_url, visibility_timeout=0.2)
    broker.bind(name, broker.serializer)
    await broker.start()
    try:
        await broker.send([OutgoingMessage("s1", "q", 0, b"body")])
        (first,) = await broker.receive(["q"], 1, 2)
        await anyio.sleep(0.4)  # the lease lapses without a heartbeat
        (second,) = await broker.receive(["q"], 1, 2)
        assert second.delivery_count == 2
        await broker.ack([first])  # late ack of the first delivery: ignored
        await broker.nack([first])  # and so is a late hand-back
        (stats,) = await broker.stats(["q"])
        assert (stats.total_ready, stats.in_flight) == (0, 1)
        await broker.heartbeat([second])
        await broker.ack([second])
        (stats,) = await broker.stats(["q"])
        assert (stats.total_ready, stats.in_flight) == (0, 0)
    finally:
        await broker.stop()


def test_the_sync_app_works_on_redis(redis_url: str, name: str) -> None:
    from qtasks import QueueTasks as SyncQueueTasks

    app = SyncQueueTasks(name, broker=redis_url)

    @app.task
    def square(x: int) -> int:
        return x * x

    try:
        with app.running(concurrency=2):
            assert app.add_task("square", 7, timeout=10).returning == 49
            tasks = app.add_tasks("square", [(i,) for i in range(5)])
            assert [t.wait_result(10).returning for t in tasks] == [0, 1, 4, 9, 16]
    finally:
        app.close()


@pytest.mark.anyio
async def test_many_concurrent_waiters_share_one_subscriber(app: QueueTasks) -> None:
    @app.task(name="twice")
    async def twice(x: int) -> int:
        return 2 * x

    tasks = await app.add_tasks("twice", [(i,) for i in range(50)])
    results: dict[int, int] = {}

    async def wait(index: int) -> None:
        results[index] = (await app.wait_result(tasks[index].uuid, timeout=20)).returning

    async with anyio.create_task_group() as group:
        for index in range(50):  # all subscribe at once, before any worker runs
            group.start_soon(wait, index)
        await anyio.sleep(0.2)
        async with app.running(concurrency=10):
            with anyio.fail_after(20):
                while len(results) < 50:
                    await anyio.sleep(0.05)
    assert results == {i: 2 * i for i in range(50)}


@pytest.mark.anyio
async def test_a_requeued_dead_letter_runs_again(app: QueueTasks) -> None:
    runs: list[str] = []

    @app.task
    def fragile(value: str) -> str:
        runs.append(value)
        return value

    task = await app.add_task("fragile", "x")  # starts the app's components
    (delivery,) = await app.broker.receive([task.queue], 1, 5)
    await app.broker.nack([delivery])  # a worker died holding it: delivered twice now
    async with app.running(max_deliveries=1):
        dead = await app.wait_result(task.uuid, timeout=10)
    assert dead.status is TaskStatus.ERROR
    assert runs == []
    await app.start()  # the worker stopped the components when it stopped
    (stats,) = await app.broker.stats([task.queue])
    assert stats.dead == 1
    assert await app.requeue_dead() == 1
    async with app.running(max_deliveries=1):
        again = await app.wait_result(task.uuid, timeout=10)
    assert again.status is TaskStatus.SUCCESS
    assert runs == ["x"]
    await app.start()
    (stats,) = await app.broker.stats([task.queue])
    assert (stats.dead, stats.total_ready) == (0, 0)


@pytest.mark.anyio
async def test_heartbeats_keep_a_long_task_within_a_short_visibility_timeout(
    redis_url: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = QueueTasks(name, broker=f"{redis_url}?visibility_timeout=0.6")
    runs: list[int] = []
    started = anyio.Event()

    @app.task
    async def long_job() -> str:
        runs.append(1)
        started.set()
        await anyio.sleep(2.0)  # more than three visibility timeouts
        return "done once"

    try:
        async with app.running(heartbeat_interval=5.0):  # slower than the deadline allows
            task = await app.add_task("long_job")
            await started.wait()
            await anyio.sleep(1.0)
            (stats,) = await app.broker.stats([task.queue])
            assert (stats.in_flight, stats.total_ready) == (1, 0)  # still owned, not requeued
            done = await app.wait_result(task.uuid, timeout=10)
        assert done.returning == "done once"
        assert done.retries == 0
        assert runs == [1]
        assert "delivered again" not in caplog.text  # the deadline never lapsed
    finally:
        await app.stop()


@pytest.mark.anyio
async def test_unfinished_records_expire_beyond_their_due_time(
    redis_url: str, name: str, raw: redis.Redis
) -> None:
    app = QueueTasks(name, broker=f"{redis_url}?pending_ttl=100")

    @app.task
    def later() -> None:
        return None

    try:
        now_task = await app.add_task("later")
        delayed = await app.add_task("later", delay=1000)
        await app.broker.purge([now_task.queue])  # their messages are gone for good
        now_ttl = raw.ttl(keys.task_key(name, now_task.uuid))
        delayed_ttl = raw.ttl(keys.task_key(name, delayed.uuid))
        assert 0 < now_ttl <= 100
        assert 1000 < delayed_ttl <= 1100  # outlives its eta by pending_ttl
    finally:
        await app.stop()
