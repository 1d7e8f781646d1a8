"""DirectReplyStorage on its own: what it keeps, what it refuses, when it replies."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from qtasks.task import Task, TaskStatus
from qtasks_rabbitmq import DirectReplyStorage, RabbitMQBroker, SharedStorageRequiredError
from qtasks_rabbitmq._wire import Receipt

pytestmark = pytest.mark.anyio


class RecordingBroker(RabbitMQBroker):
    """Records the replies it is asked to send instead of publishing them."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, TaskStatus]] = []

    async def send_replies(self, records: Any) -> None:
        for record in records:
            receipt = self._routes.take(record.uuid)
            if receipt is not None:
                self.sent.append((record.uuid, record.status))


def route(broker: RabbitMQBroker, uuid: str) -> Receipt:
    receipt = Receipt(None, 1, "default", uuid, 0, 0, "amq.rabbitmq.reply-to.x", None)  # type: ignore[arg-type]
    broker._routes.remember(receipt)
    return receipt


async def test_own_records_are_kept_and_others_refused() -> None:
    broker = RecordingBroker()
    storage = DirectReplyStorage(broker)
    storage.track([Task("mine", "t", TaskStatus.NEW)])
    assert (await storage.get("mine")).status is TaskStatus.NEW  # type: ignore[union-attr]
    with pytest.raises(SharedStorageRequiredError, match="needs a shared storage"):
        await storage.get("theirs")
    with pytest.raises(SharedStorageRequiredError):
        await storage.wait("theirs", 0.1)
    assert await storage.wait("mine", 0.05) is None  # not final yet
    storage.deliver(storage.encode_task(Task("mine", "t", TaskStatus.SUCCESS, returning=7)))
    done = await storage.wait("mine", 0.05)
    assert done is not None and done.returning == 7
    storage.deliver(b"not a record")  # ignored
    storage.deliver(storage.encode_task(Task("stranger", "t", TaskStatus.SUCCESS)))
    with pytest.raises(SharedStorageRequiredError):
        await storage.get("stranger")
    assert await storage.delete(["mine", "nothing"]) == 1


async def test_a_worker_replies_final_records_and_remembers_them() -> None:
    broker = RecordingBroker()
    storage = DirectReplyStorage(broker)
    route(broker, "u1")
    assert await storage.save([Task("u1", "t", TaskStatus.PROCESS)], only_if={TaskStatus.NEW}) == [
        True
    ]
    assert broker.sent == []  # only final records travel back
    assert await storage.save([Task("u1", "t", TaskStatus.SUCCESS)]) == [True]
    assert broker.sent == [("u1", TaskStatus.SUCCESS)]
    # A redelivered copy of the finished task is not started again by this worker.
    assert await storage.save(
        [Task("u1", "t", TaskStatus.PROCESS)], only_if={TaskStatus.NEW, TaskStatus.PROCESS}
    ) == [False]


async def test_a_local_retry_keeps_the_reply_route_for_whoever_runs_it_next() -> None:
    """Producer and worker in one process: only a final record answers the producer."""
    broker = RecordingBroker()
    storage = DirectReplyStorage(broker)
    storage.track([Task("u2", "t", TaskStatus.NEW)])
    receipt = route(broker, "u2")
    await storage.save([Task("u2", "t", TaskStatus.PROCESS)])
    await storage.save([Task("u2", "t", TaskStatus.RETRY)])
    assert broker.reply_route("u2") == receipt.reply_to  # the retry message carries it on
    await storage.save([Task("u2", "t", TaskStatus.SUCCESS)])
    assert broker.reply_route("u2") is None  # answered locally, nothing sent
    assert broker.sent == []


async def test_finished_records_expire_and_are_bounded() -> None:
    broker = RecordingBroker()
    storage = DirectReplyStorage(broker, result_ttl=None, max_records=2)
    for n in range(4):
        storage.track([Task(f"r{n}", "t", TaskStatus.NEW)])
        await storage.save([Task(f"r{n}", "t", TaskStatus.SUCCESS)])
    assert len(storage) == 2
    with pytest.raises(SharedStorageRequiredError):
        await storage.get("r0")
    assert (await storage.get("r3")) is not None


async def test_waits_that_time_out_leave_nothing_behind() -> None:
    """A reply that never comes must not keep one waiter per timed-out wait forever."""
    storage = DirectReplyStorage(RecordingBroker())
    storage.track([Task("lost", "t", TaskStatus.NEW), Task("late", "t", TaskStatus.NEW)])
    for _ in range(3):
        assert await storage.wait("lost", 0.01) is None
    assert storage._waiters == {} and storage._waiting == {}

    # Two callers wait for one task; the first gives up, the second still gets the result.
    results: dict[str, Task | None] = {}

    async def wait(name: str, timeout: float) -> None:
        results[name] = await storage.wait("late", timeout)

    async with anyio.create_task_group() as group:
        group.start_soon(wait, "impatient", 0.01)
        group.start_soon(wait, "patient", 5.0)
        await anyio.sleep(0.1)
        assert "late" in storage._waiters  # the patient caller still waits on it
        storage.deliver(storage.encode_task(Task("late", "t", TaskStatus.SUCCESS, returning=3)))
    assert results["impatient"] is None
    patient = results["patient"]
    assert patient is not None and patient.returning == 3
    assert storage._waiters == {} and storage._waiting == {}
