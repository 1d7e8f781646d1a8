"""Starters: one process running the worker plus an extra service, in a fixed order.

Run it with `python examples/starters.py` (no server: everything is in memory).
"""

from __future__ import annotations

import anyio

from qtasks import Plugin
from qtasks.asyncio import QueueTasks
from qtasks.interfaces import Worker
from qtasks.memory import MemoryBroker
from qtasks.starters import DefaultStarter

order: list[str] = []


class LoudBroker(MemoryBroker):
    """Any component can be replaced; this one only says when it starts and stops."""

    async def start(self) -> None:
        order.append("broker started")
        await super().start()

    async def stop(self) -> None:
        order.append("broker stopped")


class Announce(Plugin):
    def on_worker_start(self, worker: Worker) -> None:
        order.append("plugins told: worker starting")

    def on_worker_stop(self, worker: Worker) -> None:
        order.append("plugins told: worker stopped")


async def heartbeat(app: QueueTasks) -> None:
    """An extra service (a timer, a web server...): runs beside the worker until it stops."""
    order.append("service started")
    while True:
        await app.add_task("beat")
        await anyio.sleep(0.01)


app = QueueTasks(
    broker=LoudBroker(),
    starter=DefaultStarter(services=[heartbeat]),
    plugins=[Announce()],
)
beats = 0
enough = anyio.Event()


@app.task
async def beat() -> None:
    global beats  # noqa: PLW0603 - a counter for the example
    beats += 1
    if beats == 3:
        enough.set()


async def main() -> None:
    async with app.running():
        await enough.wait()
    print("\n".join(order))
    assert order[:2] == ["broker started", "plugins told: worker starting"]
    assert order[-2:] == ["plugins told: worker stopped", "broker stopped"]
    assert beats >= 3


if __name__ == "__main__":
    anyio.run(main)
