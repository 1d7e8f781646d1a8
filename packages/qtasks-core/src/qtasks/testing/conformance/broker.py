"""The Broker contract, as tests: ordering, priorities, delays, ack, redelivery, dead letters."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import anyio
import pytest

from qtasks.interfaces.broker import Broker, Delivery, OutgoingMessage
from qtasks.testing.conformance._support import Instances, instances, unsupported

__all__ = ["BrokerConformance", "BrokerFactory"]

BrokerFactory = Callable[[], Broker]


def message(
    uuid: str, *, queue: str = "q", priority: int = 0, eta: float | None = None
) -> OutgoingMessage:
    """A message whose body is its uuid, so tests can check bodies travel intact."""
    return OutgoingMessage(uuid, queue, priority, f"body-{uuid}".encode(), eta)


async def drain(broker: Broker, queues: list[str], want: int, timeout: float = 5) -> list[Delivery]:
    """Receive until ``want`` messages arrived or ``timeout`` passed."""
    got: list[Delivery] = []
    with anyio.move_on_after(timeout):
        while len(got) < want:
            got += await broker.receive(queues, want - len(got), 0.5)
    return got


class BrokerConformance:
    """The Broker contract; subclass it and provide ``broker_factory``.

    Each factory call returns a new, unstarted broker connected to the same server (the
    in-memory broker returns one shared instance).

    Switches for what a backend documents as unsupported, each with the reason shown in the
    skip: ``preserves_fifo``, ``supports_priority``, ``supports_cancel``, ``supports_stats``,
    ``redelivers_abandoned`` (a consumer that goes away without acking loses its messages to
    another within ``redelivery_within`` seconds).
    """

    pytestmark = pytest.mark.anyio

    preserves_fifo: bool = True
    fifo_reason: str = "this broker does not keep the order of one queue"
    supports_priority: bool = True
    priority_reason: str = "this broker does not order by priority"
    supports_cancel: bool = True
    cancel_reason: str = "this broker cannot remove a queued message"
    supports_stats: bool = True
    stats_reason: str = "this broker cannot count queued messages"
    redelivers_abandoned: bool = True
    abandoned_reason: str = "this broker has no consumer that can go away"
    redelivery_within: float = 10.0

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "asyncio"

    @pytest.fixture
    def broker_factory(self) -> BrokerFactory:
        raise NotImplementedError("a BrokerConformance subclass must provide broker_factory")

    @pytest.fixture
    async def brokers(self, broker_factory: BrokerFactory) -> AsyncIterator[Instances[Broker]]:
        async with instances(broker_factory) as made:
            yield made

    @pytest.fixture
    async def broker(self, brokers: Instances[Broker]) -> Broker:
        return await brokers.new()

    # -- sending and receiving ----------------------------------------------------------------

    async def test_a_sent_message_arrives_whole(self, broker: Broker) -> None:
        await broker.send([message("a")])
        (got,) = await drain(broker, ["q"], 1)
        assert got.body == b"body-a"
        assert got.queue == "q"
        assert got.delivery_count == 1
        assert got.uuid in ("a", None)
        await broker.ack([got])

    async def test_fifo_within_one_priority(self, broker: Broker) -> None:
        unsupported(self.preserves_fifo, self.fifo_reason)
        ids = [f"m{i:03d}" for i in range(50)]
        await broker.send([message(i) for i in ids])
        got = await drain(broker, ["q"], 50)
        assert [d.body for d in got] == [f"body-{i}".encode() for i in ids]
        await broker.ack(got)

    async def test_many_messages_in_one_send(self, broker: Broker) -> None:
        await broker.send([message(f"bulk{i}") for i in range(1000)])
        got = await drain(broker, ["q"], 1000, timeout=20)
        assert len({d.body for d in got}) == 1000
        await broker.ack(got)

    async def test_receive_honours_max_messages_and_queues(self, broker: Broker) -> None:
        await broker.send([message("1"), message("2"), message("3"), message("z", queue="z")])
        first = await broker.receive(["q"], 2, 2)
        assert 1 <= len(first) <= 2
        rest = await drain(broker, ["q"], 3 - len(first), timeout=3)
        assert sorted(d.body for d in first + rest) == [b"body-1", b"body-2", b"body-3"]
        assert await broker.receive(["q"], 5, 0.2) == []
        other = await drain(broker, ["z"], 1)
        assert [d.queue for d in other] == ["z"]
        await broker.ack(first + rest + other)

    async def test_receive_returns_empty_after_its_timeout(self, broker: Broker) -> None:
        start = time.monotonic()
        assert await broker.receive(["empty"], 3, 0.3) == []
        assert time.monotonic() - start < 5

    async def test_a_waiting_receive_wakes_up_for_a_send(self, broker: Broker) -> None:
        got: list[Delivery] = []
        async with anyio.create_task_group() as group:

            async def consume() -> None:
                got.extend(await broker.receive(["q"], 1, 10))

            group.start_soon(consume)
            await anyio.sleep(0.2)
            start = time.monotonic()
            await broker.send([message("wake")])
        assert [d.body for d in got] == [b"body-wake"]
        assert time.monotonic() - start < 5  # woken by the send, not by the 10 s timeout
        await broker.ack(got)

    async def test_two_consumers_share_without_duplicates(self, brokers: Instances[Broker]) -> None:
        first, second = await brokers.new(), await brokers.new()
        await first.send([message(f"s{i}") for i in range(200)])
        seen: list[bytes] = []

        async def consume(broker: Broker) -> None:
            while True:
                got = await broker.receive(["q"], 7, 0.5)
                if not got:
                    return
                seen.extend(d.body for d in got)
                await broker.ack(got)

        async with anyio.create_task_group() as group:
            group.start_soon(consume, first)
            group.start_soon(consume, second)
        assert sorted(seen) == sorted(f"body-s{i}".encode() for i in range(200))

    # -- priorities and delays ----------------------------------------------------------------

    async def test_lower_priority_numbers_come_first(self, broker: Broker) -> None:
        unsupported(self.supports_priority, self.priority_reason)
        await broker.send(
            [
                message("a", priority=5),
                message("b", priority=1),
                message("c", priority=5),
                message("d", priority=-2),
                message("e", priority=1),
            ]
        )
        got = await drain(broker, ["q"], 5)
        assert [d.body for d in got] == [b"body-d", b"body-b", b"body-e", b"body-a", b"body-c"]
        assert [d.priority for d in got] == [-2, 1, 1, 5, 5]
        await broker.ack(got)

    async def test_priority_across_queues(self, broker: Broker) -> None:
        unsupported(self.supports_priority, self.priority_reason)
        await broker.send(
            [
                message("low", queue="a", priority=9),
                message("high", queue="b", priority=0),
                message("mid", queue="a", priority=3),
            ]
        )
        got = await drain(broker, ["a", "b"], 3)
        assert [d.body for d in got] == [b"body-high", b"body-mid", b"body-low"]
        await broker.ack(got)

    async def test_a_delayed_message_waits_for_its_time(self, broker: Broker) -> None:
        due = time.time() + 1.0
        await broker.send([message("later", eta=due), message("now")])
        first = await drain(broker, ["q"], 1)
        assert [d.body for d in first] == [b"body-now"]
        assert time.time() < due  # the delayed one was not handed out with it
        got = await drain(broker, ["q"], 1, timeout=10)
        assert [d.body for d in got] == [b"body-later"]
        assert time.time() >= due - 0.05
        await broker.ack(first + got)

    async def test_an_eta_in_the_past_is_due_at_once(self, broker: Broker) -> None:
        await broker.send([message("past", eta=time.time() - 60)])
        got = await drain(broker, ["q"], 1, timeout=3)
        assert [d.body for d in got] == [b"body-past"]
        await broker.ack(got)

    # -- settling -----------------------------------------------------------------------------

    async def test_acked_messages_are_gone(self, brokers: Instances[Broker]) -> None:
        broker = await brokers.new()
        await broker.send([message("x")])
        got = await drain(broker, ["q"], 1)
        await broker.ack(got)
        other = await brokers.new()
        assert await other.receive(["q"], 5, 0.5) == []

    async def test_nack_delivers_again_and_counts(self, broker: Broker) -> None:
        await broker.send([message("again")])
        (first,) = await drain(broker, ["q"], 1)
        await broker.nack([first])
        (second,) = await drain(broker, ["q"], 1)
        assert second.body == b"body-again"
        assert second.delivery_count == 2
        await broker.ack([second])

    async def test_an_uncounted_nack_keeps_the_delivery_count(self, broker: Broker) -> None:
        await broker.send([message("prefetched")])
        (first,) = await drain(broker, ["q"], 1)
        await broker.nack([first], counted=False)  # never started: a worker shutting down
        (second,) = await drain(broker, ["q"], 1)
        assert second.body == b"body-prefetched"
        assert second.delivery_count == first.delivery_count
        await broker.nack([second])
        (third,) = await drain(broker, ["q"], 1)
        assert third.delivery_count == first.delivery_count + 1
        await broker.ack([third])

    async def test_nack_with_a_delay(self, broker: Broker) -> None:
        await broker.send([message("later")])
        (first,) = await drain(broker, ["q"], 1)
        handed_back = time.time()
        await broker.nack([first], delay=0.8)
        assert await broker.receive(["q"], 1, 0.3) == []
        (second,) = await drain(broker, ["q"], 1, timeout=10)
        assert time.time() - handed_back >= 0.7
        await broker.ack([second])

    async def test_heartbeat_keeps_a_delivery_owned(self, broker: Broker) -> None:
        await broker.send([message("long")])
        got = await drain(broker, ["q"], 1)
        await broker.heartbeat(got)
        assert await broker.receive(["q"], 1, 0.3) == []
        await broker.ack(got)

    async def test_an_abandoned_delivery_comes_back(self, brokers: Instances[Broker]) -> None:
        unsupported(self.redelivers_abandoned, self.abandoned_reason)
        crashing = await brokers.new()
        await crashing.send([message("orphan")])
        await drain(crashing, ["q"], 1)
        await crashing.stop()  # gone without ack or nack, as a killed worker would be
        survivor = await brokers.new()
        got = await drain(survivor, ["q"], 1, timeout=self.redelivery_within)
        assert [d.body for d in got] == [b"body-orphan"]
        assert got[0].delivery_count >= 2
        await survivor.ack(got)

    # -- dead letters -------------------------------------------------------------------------

    async def test_dead_letters_keep_body_and_reason(self, broker: Broker) -> None:
        await broker.send([message("bad", priority=3)])
        (got,) = await drain(broker, ["q"], 1)
        await broker.dead_letter(got, "could not decode: test")
        dead = await broker.dead_letters("q")
        assert [(d.body, d.reason, d.queue) for d in dead] == [
            (b"body-bad", "could not decode: test", "q")
        ]
        assert await broker.dead_letters("other") == []
        assert await broker.receive(["q"], 1, 0.3) == []

    async def test_raw_bytes_without_a_uuid_can_be_dead_lettered(self, broker: Broker) -> None:
        await broker.send([OutgoingMessage("", "q", 0, b"\xff not a task")])
        (got,) = await drain(broker, ["q"], 1)
        assert got.body == b"\xff not a task"
        await broker.dead_letter(got, "garbage")
        assert [d.body for d in await broker.dead_letters()] == [b"\xff not a task"]

    async def test_requeue_dead(self, broker: Broker) -> None:
        unsupported(self.supports_stats, self.stats_reason)
        await broker.send([message("d1"), message("d2")])
        for delivery in await drain(broker, ["q"], 2):
            await broker.dead_letter(delivery, "test")
        assert await broker.requeue_dead("q", limit=1) == 1
        (back,) = await drain(broker, ["q"], 1)
        assert back.body == b"body-d1"
        assert back.delivery_count == 1
        assert [d.body for d in await broker.dead_letters("q")] == [b"body-d2"]
        assert await broker.requeue_dead() == 1
        await broker.ack([back, *await drain(broker, ["q"], 1)])

    # -- management ---------------------------------------------------------------------------

    async def test_cancel_removes_a_queued_message(self, broker: Broker) -> None:
        unsupported(self.supports_cancel, self.cancel_reason)
        await broker.send(
            [message("keep"), message("drop"), message("later", eta=time.time() + 30)]
        )
        assert await broker.cancel("drop", "q") is True
        assert await broker.cancel("later", "q") is True
        assert await broker.cancel("drop", "q") is False
        assert await broker.cancel("unknown", "q") is False
        got = await drain(broker, ["q"], 2, timeout=1)
        assert [d.body for d in got] == [b"body-keep"]
        assert await broker.cancel("keep", "q") is False  # already delivered
        await broker.ack(got)

    async def test_stats_count_what_is_where(self, broker: Broker) -> None:
        unsupported(self.supports_stats, self.stats_reason)
        await broker.send(
            [
                message("p0", priority=0),
                message("p0b", priority=0),
                message("p5", priority=5),
                message("late", eta=time.time() + 30),
                message("dead"),
            ]
        )
        taken = await drain(broker, ["q"], 2)  # p0 and p0b: priority 0 comes first, FIFO
        await broker.dead_letter(taken[1], "test")
        (stats,) = await broker.stats(["q"])
        assert stats.queue == "q"
        assert stats.total_ready == 2
        assert stats.delayed == 1
        assert stats.in_flight in (1, None)  # None: the broker cannot tell (QueueStats)
        assert stats.dead == 1
        (empty,) = await broker.stats(["nothing"])
        assert (empty.total_ready, empty.dead) == (0, 0)
        await broker.ack(taken[:1])

    async def test_purge_drops_ready_and_delayed(self, broker: Broker) -> None:
        unsupported(self.supports_stats, self.stats_reason)
        await broker.send(
            [
                message("a"),
                message("b"),
                message("c", eta=time.time() + 30),
                message("z", queue="z"),
            ]
        )
        assert await broker.purge(["q"]) == 3
        assert await broker.receive(["q"], 5, 0.3) == []
        got = await drain(broker, ["z"], 1)
        assert [d.body for d in got] == [b"body-z"]
        await broker.ack(got)
