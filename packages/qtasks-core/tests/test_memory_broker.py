from __future__ import annotations

import time

import anyio
import pytest

from qtasks.interfaces import OutgoingMessage
from qtasks.memory import MemoryBroker

pytestmark = pytest.mark.anyio


def msg(uuid: str, priority: int = 0, queue: str = "q", eta: float | None = None) -> OutgoingMessage:
    return OutgoingMessage(uuid, queue, priority, uuid.encode(), eta)


async def test_priority_then_fifo() -> None:
    broker = MemoryBroker()
    await broker.send([msg("a", 5), msg("b", 1), msg("c", 5), msg("d", -2), msg("e", 1)])
    got = await broker.receive(["q"], 10, 0.1)
    assert [d.uuid for d in got] == ["d", "b", "e", "a", "c"]
    assert all(d.delivery_count == 1 for d in got)
    assert broker.in_flight == 5


async def test_priority_is_honoured_across_queues() -> None:
    broker = MemoryBroker()
    await broker.send([msg("low", 9, "a"), msg("high", 0, "b"), msg("mid", 3, "a")])
    got = await broker.receive(["a", "b"], 10, 0.1)
    assert [d.uuid for d in got] == ["high", "mid", "low"]


async def test_receive_honours_the_limit_and_the_queue_list() -> None:
    broker = MemoryBroker()
    await broker.send([msg("1"), msg("2"), msg("3"), msg("other", queue="z")])
    assert [d.uuid for d in await broker.receive(["q"], 2, 0.1)] == ["1", "2"]
    assert [d.uuid for d in await broker.receive(["q"], 5, 0.1)] == ["3"]
    assert await broker.receive(["q"], 5, 0.01) == []
    assert broker.depth("z") == 1


async def test_receive_waits_for_a_send() -> None:
    broker = MemoryBroker()
    async with anyio.create_task_group() as tg:

        async def later() -> None:
            await anyio.sleep(0.05)
            await broker.send([msg("x")])

        tg.start_soon(later)
        got = await broker.receive(["q"], 1, 5)
    assert [d.uuid for d in got] == ["x"]


async def test_delayed_messages_become_due_without_a_send() -> None:
    broker = MemoryBroker()
    start = time.time()
    await broker.send([msg("later", eta=start + 0.15), msg("now")])
    assert [d.uuid for d in await broker.receive(["q"], 5, 0.01)] == ["now"]
    assert broker.depth("q") == 1
    got = await broker.receive(["q"], 5, 5)
    assert [d.uuid for d in got] == ["later"]
    assert time.time() - start >= 0.14


async def test_nack_returns_a_message_to_its_place_and_counts_the_delivery() -> None:
    broker = MemoryBroker()
    await broker.send([msg("first"), msg("second")])
    first = (await broker.receive(["q"], 1, 0.1))[0]
    await broker.nack([first])
    again = await broker.receive(["q"], 2, 0.1)
    assert [d.uuid for d in again] == ["first", "second"]
    assert again[0].delivery_count == 2


async def test_nack_with_delay() -> None:
    broker = MemoryBroker()
    await broker.send([msg("x")])
    delivery = (await broker.receive(["q"], 1, 0.1))[0]
    await broker.nack([delivery], delay=0.1)
    assert await broker.receive(["q"], 1, 0.01) == []
    assert [d.uuid for d in await broker.receive(["q"], 1, 5)] == ["x"]


async def test_ack_forgets_and_dead_letter_keeps_the_reason() -> None:
    broker = MemoryBroker()
    await broker.send([msg("ok"), msg("bad", queue="other")])
    ok = (await broker.receive(["q"], 1, 0.1))[0]
    bad = (await broker.receive(["other"], 1, 0.1))[0]
    await broker.ack([ok])
    await broker.dead_letter(bad, "could not decode")
    assert broker.in_flight == 0
    dead = await broker.dead_letters()
    assert [(d.uuid, d.reason, d.body, d.queue) for d in dead] == [
        ("bad", "could not decode", b"bad", "other")
    ]
    assert await broker.dead_letters("q") == []
    await broker.nack([ok])  # acked already: nothing comes back
    assert await broker.receive(["q"], 1, 0.01) == []


async def test_cancel_removes_queued_and_delayed_messages_only() -> None:
    broker = MemoryBroker()
    await broker.send([msg("a"), msg("b"), msg("d", eta=time.time() + 60)])
    assert await broker.cancel("a", "q") is True
    assert await broker.cancel("d", "q") is True
    assert await broker.cancel("a", "q") is False
    taken = await broker.receive(["q"], 5, 0.01)
    assert [d.uuid for d in taken] == ["b"]
    assert await broker.cancel("b", "q") is False  # in flight: not removable
    assert broker.depth("q") == 0


async def test_resending_a_queued_uuid_replaces_the_older_copy() -> None:
    broker = MemoryBroker()
    await broker.send([OutgoingMessage("u", "q", 0, b"old")])
    await broker.send([OutgoingMessage("u", "q", 0, b"new")])
    got = await broker.receive(["q"], 5, 0.01)
    assert [d.body for d in got] == [b"new"]


async def test_raw_pushes_are_delivered_without_a_uuid() -> None:
    broker = MemoryBroker()
    broker.push_raw("q", b"\x00garbage")
    (delivery,) = await broker.receive(["q"], 5, 0.1)
    assert delivery.body == b"\x00garbage" and delivery.uuid == ""


async def test_cancelled_receive_loses_nothing() -> None:
    broker = MemoryBroker()
    with anyio.move_on_after(0.05):
        await broker.receive(["q"], 5, 10)
    await broker.send([msg("x")])
    assert [d.uuid for d in await broker.receive(["q"], 5, 0.1)] == ["x"]


async def test_from_url_and_restart_on_a_new_loop() -> None:
    broker = MemoryBroker.from_url("memory://")
    await broker.start()
    await broker.send([msg("x")])
    await broker.stop()
    await broker.start()
    assert [d.uuid for d in await broker.receive(["q"], 1, 0.1)] == ["x"]
    assert broker.default_storage() is None and broker.default_global_config() is None
    await broker.heartbeat([])
