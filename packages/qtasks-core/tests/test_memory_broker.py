from __future__ import annotations

import anyio
import pytest

from qtasks.interfaces import OutgoingMessage
from qtasks.memory import MemoryBroker

pytestmark = pytest.mark.anyio


def msg(
    uuid: str, priority: int = 0, queue: str = "q", eta: float | None = None
) -> OutgoingMessage:
    return OutgoingMessage(uuid, queue, priority, uuid.encode(), eta)


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
    assert delivery.body == b"\x00garbage"
    assert delivery.uuid is None


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
