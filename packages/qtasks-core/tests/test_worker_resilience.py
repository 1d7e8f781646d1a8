"""A worker rides out failing components: it retries with backoff and loses no task.

The broker and storage here are the real in-memory components with a fault switch: the
failure modes (an exception from a call) are the ones a network backend produces.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import anyio
import pytest

from qtasks.asyncio import QueueTasks
from qtasks.interfaces import Delivery, OutgoingMessage
from qtasks.interfaces.storage import Storage
from qtasks.memory import MemoryBroker, MemoryStorage
from qtasks.task import Task, TaskStatus

pytestmark = pytest.mark.anyio


class FlakyBroker(MemoryBroker):
    """Fails the next N calls of chosen methods with ConnectionError."""

    def __init__(self) -> None:
        super().__init__()
        self.failures: dict[str, int] = {}

    def _maybe_fail(self, method: str) -> None:
        left = self.failures.get(method, 0)
        if left:
            self.failures[method] = left - 1
            raise ConnectionError(f"{method}: connection reset")

    async def receive(
        self, queues: Sequence[str], max_messages: int, timeout: float
    ) -> list[Delivery]:
        self._maybe_fail("receive")
        return await super().receive(queues, max_messages, timeout)

    async def settle(
        self,
        storage: Storage,
        records: Sequence[Task],
        acks: Sequence[Delivery],
        sends: Sequence[OutgoingMessage] = (),
    ) -> None:
        self._maybe_fail("settle")
        await super().settle(storage, records, acks, sends)

    async def nack(
        self, deliveries: Sequence[Delivery], *, delay: float = 0.0, counted: bool = True
    ) -> None:
        self._maybe_fail("nack")
        await super().nack(deliveries, delay=delay, counted=counted)


class FlakyStorage(MemoryStorage):
    """Fails the next N conditional saves (the worker's "mark started" write)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    async def save(
        self, tasks: Sequence[Task], *, only_if: Collection[TaskStatus] | None = None
    ) -> list[bool]:
        if only_if is not None and self.failures:
            self.failures -= 1
            raise ConnectionError("storage: connection reset")
        return await super().save(tasks, only_if=only_if)


@pytest.fixture
async def flaky() -> Any:
    broker, storage = FlakyBroker(), FlakyStorage()
    app = QueueTasks("flaky", broker=broker, storage=storage)

    @app.task
    async def double(n: int) -> int:
        return n * 2

    yield app, broker, storage
    await app.stop()


async def test_receive_failures_are_retried(flaky: Any, caplog: pytest.LogCaptureFixture) -> None:
    app, broker, _ = flaky
    broker.failures["receive"] = 2
    async with app.running():
        done = await app.add_task("double", 4, timeout=10)
    assert done.returning == 8
    assert "broker receive failed, retrying with backoff" in caplog.text
    assert "broker receive recovered after 2 failure(s)" in caplog.text


async def test_settle_failures_are_retried_and_the_result_is_kept(
    flaky: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app, broker, _ = flaky
    broker.failures["settle"] = 2
    async with app.running():
        done = await app.add_task("double", 5, timeout=10)
    assert done.returning == 10
    assert "settling 1 task(s) failed, will retry" in caplog.text
    assert broker.in_flight == 0  # acked in the end


async def test_mark_started_failures_put_tasks_back_in_line(
    flaky: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app, _, storage = flaky
    storage.failures = 1
    async with app.running():
        done = await app.add_task("double", 6, timeout=10)
    assert done.returning == 12
    assert "storage failed to mark 1 task(s) started" in caplog.text


async def test_a_failed_hand_back_is_logged_not_raised(
    flaky: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app, broker, _ = flaky
    started = anyio.Event()

    @app.task
    async def gate() -> None:
        started.set()
        await anyio.sleep(0.1)

    await app.add_tasks("gate", [() for _ in range(3)])
    broker.failures["nack"] = 1
    async with app.running(concurrency=1, prefetch=2) as worker:
        await started.wait()
        worker.stop()
    assert "could not hand 2 task(s) back" in caplog.text
    assert broker.in_flight == 2  # still owned by the broker: redelivered, never lost


class RedeliveringBroker(MemoryBroker):
    """Hands the first message out a second time while the worker still runs it, as a broker
    whose visibility deadline lapsed would."""

    def __init__(self) -> None:
        super().__init__()
        self.first: Delivery | None = None
        self.acked: list[Delivery] = []

    async def receive(
        self, queues: Sequence[str], max_messages: int, timeout: float
    ) -> list[Delivery]:
        got = await super().receive(queues, max_messages, timeout)
        if self.first is None and got:
            self.first = got[0]
        elif self.first is not None and not self.acked and not got:
            again = self.first
            self.first = Delivery(again.body, again.queue, "second-receipt", 2, again.uuid)
            return [self.first]
        return got

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        self.acked.extend(deliveries)
        await super().ack(deliveries)


async def test_a_task_delivered_again_while_running_runs_once_under_the_newer_delivery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = RedeliveringBroker()
    app = QueueTasks("redelivered", broker=broker)
    runs: list[int] = []

    @app.task
    async def slow() -> str:
        runs.append(1)
        await anyio.sleep(0.3)
        return "once"

    async with app.running(fetch_timeout=0.05):
        done = await app.add_task("slow", timeout=5)
    await app.stop()
    assert done.returning == "once"
    assert runs == [1]
    assert [d.receipt for d in broker.acked] == ["second-receipt"]
    assert "delivered again while held here; keeping the newer delivery" in caplog.text
