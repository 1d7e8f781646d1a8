"""QTasks on Redis: one URL gives the broker, the storage and the global config.

Needs a Redis server: set QTASKS_REDIS_URL (default redis://127.0.0.1:6379/0). Run it with
``python examples/redis_app.py``; it starts a worker in this process, queues work the way a
web process would, and prints what came back.
"""

# needs: redis
from __future__ import annotations

import os
import uuid

import anyio

from qtasks.asyncio import QueueTasks

URL = os.environ.get("QTASKS_REDIS_URL", "redis://127.0.0.1:6379/0")

# A unique app name keeps this demo's keys apart from anything else on the server
# (QTASKS_EXAMPLE_NAME chooses it, so a test can delete the keys afterwards).
NAME = os.environ.get("QTASKS_EXAMPLE_NAME") or f"example-{uuid.uuid4().hex[:8]}"
app = QueueTasks(NAME, broker=f"{URL}?result_ttl=300")


@app.task(retry=2, retry_backoff=0.1)
async def resize(image: str, width: int) -> str:
    await anyio.sleep(0.01)  # stands for real work
    return f"{image}@{width}px"


@app.task(priority=0)
def urgent(note: str) -> str:
    return note.upper()


async def main() -> None:
    async with app.running(concurrency=20):
        # Queue many in one round trip, then wait for each result (woken by Redis pub/sub).
        batch = await app.add_tasks(resize, [("cat.png", w) for w in (64, 128, 256)])
        for task in batch:
            done = await task.wait_result_async(timeout=10)
            print(done.status, done.returning)
        # Lower numbers run first; a delayed task becomes due without any polling.
        later = await app.add_task(urgent, "runs in half a second", delay=0.5)
        print((await later.wait_result_async(timeout=10)).returning)
        # Queue statistics straight from Redis.
        (stats,) = await app.broker.stats(["default"])
        print("ready:", stats.total_ready, "in flight:", stats.in_flight, "dead:", stats.dead)
        # Remove this demo's queue keys; results expire by themselves after 300 s.
        await app.broker.purge(["default"])


if __name__ == "__main__":
    anyio.run(main)
