"""Delays through the delay levels, measured; undecodable bytes from another program."""

from __future__ import annotations

import time

import aio_pika
import anyio
import pytest

from qtasks.asyncio import QueueTasks
from qtasks.task import TaskStatus
from qtasks_rabbitmq import RabbitMQBroker

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_delays_are_never_early_and_a_short_one_never_waits_behind_a_long_one(
    amqp_url: str, app_name: str
) -> None:
    app = QueueTasks(app_name, broker=amqp_url)
    ran: dict[str, float] = {}

    @app.task
    async def mark(label: str) -> None:
        ran[label] = time.time()

    delays = {"d2.5": 2.5, "d0.05": 0.05, "d1.3": 1.3, "d0.4": 0.4, "d0.777": 0.777, "d0": 0.0}
    queued_at: dict[str, float] = {}
    try:
        async with app.running(concurrency=8):
            tasks = []
            for label, delay in delays.items():  # the longest first: no head-of-line blocking
                queued_at[label] = time.time()
                tasks.append(await app.add_task("mark", label, delay=delay))
            for task in tasks:
                assert (await app.wait_result(task.uuid, timeout=30)).status is TaskStatus.SUCCESS
        late = {label: ran[label] - queued_at[label] - delay for label, delay in delays.items()}
        assert all(value >= -0.002 for value in late.values()), late  # never early
        assert all(value < 0.5 for value in late.values()), late  # and not long after
        assert sorted(ran, key=ran.__getitem__) == sorted(delays, key=delays.__getitem__)
    finally:
        await app.stop()


async def test_undecodable_bytes_from_another_program_are_dead_lettered(
    amqp_url: str, app_name: str
) -> None:
    app = QueueTasks(app_name, broker=amqp_url)

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    broker = app.broker
    assert isinstance(broker, RabbitMQBroker)
    try:
        await app.start()
        assert (await app.add_task("add", 1, 1)).status is TaskStatus.NEW
        # Another program publishes garbage straight to the work queue.
        connection = await aio_pika.connect(amqp_url)
        work_queue = broker.names.queue(app.default_queue)
        async with connection:
            channel = await connection.channel()
            await channel.default_exchange.publish(
                aio_pika.Message(b"\x00garbage{", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=work_queue,
            )
            # And through a route of its own (the binding goes with the queue at cleanup).
            queue = await channel.get_queue(work_queue, ensure=False)
            await queue.bind("amq.direct", routing_key=f"{app_name}-other-route")
            direct = await channel.get_exchange("amq.direct", ensure=False)
            await direct.publish(aio_pika.Message(b"[1, 2"), routing_key=f"{app_name}-other-route")
        async with app.running(concurrency=2):
            assert (await app.add_task("add", 2, 3, timeout=30)).returning == 5
            with anyio.fail_after(20):
                while len(await broker.dead_letters(app.default_queue)) < 2:
                    await anyio.sleep(0.05)
        dead = await broker.dead_letters(app.default_queue)
        assert sorted(d.body for d in dead) == [b"\x00garbage{", b"[1, 2"]
        assert all("cannot decode" in d.reason for d in dead)
        assert all(d.uuid is None for d in dead)
        (stats,) = await broker.stats([app.default_queue])
        assert (stats.total_ready, stats.dead, stats.in_flight) == (0, 2, None)
        # Sent back, they are dead-lettered again (a newer worker might have read them).
        assert await broker.requeue_dead(app.default_queue, limit=1) == 1
        assert len(await broker.dead_letters()) == 1
        async with app.running(concurrency=1):
            with anyio.fail_after(20):
                while len(await broker.dead_letters(app.default_queue)) < 2:
                    await anyio.sleep(0.05)
        assert len(await broker.dead_letters()) == 2
    finally:
        await app.stop()
        await broker.stop()  # used after its worker stopped, it connected again
