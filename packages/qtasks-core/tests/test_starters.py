from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus as StartedStatus

from qtasks import Plugin
from qtasks.asyncio import QueueTasks
from qtasks.interfaces import Worker
from qtasks.interfaces.starter import Starter
from qtasks.memory import MemoryBroker, MemoryGlobalConfig, MemoryStorage
from qtasks.starters import DefaultStarter
from qtasks.worker import QueueWorker

pytestmark = pytest.mark.anyio


class Journal:
    def __init__(self) -> None:
        self.lines: list[str] = []


def journaled(journal: Journal) -> tuple[Any, Any, Any]:
    class Broker(MemoryBroker):
        async def start(self) -> None:
            journal.lines.append("broker up")
            await super().start()

        async def stop(self) -> None:
            journal.lines.append("broker down")

    class Storage(MemoryStorage):
        async def start(self) -> None:
            journal.lines.append("storage up")
            await super().start()

        async def stop(self) -> None:
            journal.lines.append("storage down")

    class Config(MemoryGlobalConfig):
        async def start(self) -> None:
            journal.lines.append("config up")

        async def stop(self) -> None:
            journal.lines.append("config down")

    return Broker(), Storage(), Config()


async def test_the_default_starter_orders_components_plugins_worker_and_services() -> None:
    journal = Journal()
    broker, storage, config = journaled(journal)

    class Watcher(Plugin):
        def on_worker_start(self, worker: Worker) -> None:
            journal.lines.append("plugins: worker starts")

        def on_worker_stop(self, worker: Worker) -> None:
            journal.lines.append("plugins: worker stopped")

    class CountingWorker(QueueWorker):
        async def serve(
            self, app: QueueTasks, *, task_status: StartedStatus[Worker] = TASK_STATUS_IGNORED
        ) -> None:
            journal.lines.append("worker serves")
            await super().serve(app, task_status=task_status)

    async def ticker(app: QueueTasks) -> None:
        journal.lines.append("service runs")
        while True:  # a timer: queue work until the starter cancels it
            await app.add_task("tick")
            await anyio.sleep(0.005)

    app = QueueTasks(
        "starter",
        broker=broker,
        storage=storage,
        global_config=config,
        worker=CountingWorker(concurrency=2),
        starter=DefaultStarter(services=[ticker]),
        plugins=[Watcher()],
    )
    ticks = anyio.Event()
    count = 0

    @app.task
    async def tick() -> None:
        nonlocal count
        count += 1
        if count >= 3:
            ticks.set()

    async with app.running():
        with anyio.fail_after(5):
            await ticks.wait()
    assert journal.lines[:5] == [
        "config up",
        "storage up",
        "broker up",
        "plugins: worker starts",
        "worker serves",
    ]
    assert "service runs" in journal.lines
    assert journal.lines[-4:] == [
        "plugins: worker stopped",
        "broker down",
        "storage down",
        "config down",
    ]
    assert app.current_worker is None and isinstance(app.worker, CountingWorker)


async def test_a_failing_service_stops_the_worker_and_is_raised() -> None:
    starter = DefaultStarter()

    async def broken(app: QueueTasks) -> None:
        raise RuntimeError("the web server could not bind")

    starter.add_service(broken)
    app = QueueTasks("starter-fail", starter=starter)
    with pytest.raises(RuntimeError, match="could not bind"):
        await app.serve()


async def test_a_custom_starter_reuses_open_and_close(app: QueueTasks) -> None:
    journal: list[str] = []

    class Minimal(Starter):
        async def serve(
            self,
            app: QueueTasks,
            worker: Worker,
            *,
            task_status: StartedStatus[Worker] = TASK_STATUS_IGNORED,
        ) -> None:
            await self.open(app, worker)
            journal.append("open")
            try:
                await worker.serve(app, task_status=task_status)
            finally:
                await self.close(app, worker)
                journal.append("closed")

    app.starter = Minimal()

    @app.task
    async def job() -> str:
        return "ran"

    async with app.running():
        assert (await app.add_task("job", timeout=5)).returning == "ran"
    assert journal == ["open", "closed"]


async def test_services_see_the_started_app(app: QueueTasks) -> None:
    seen: list[Sequence[str]] = []

    async def looks(app: QueueTasks) -> None:
        seen.append(app.queues)

    app.starter = DefaultStarter([looks])
    async with app.running():
        await anyio.sleep(0)
    assert seen == [["default"]]
