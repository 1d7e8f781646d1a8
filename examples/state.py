"""State: data shared by every task of one worker, updated atomically.

Run it with `python examples/state.py` (no server: everything is in memory).
"""

from __future__ import annotations

from typing import Any, ClassVar

import anyio
import anyio.lowlevel

from qtasks import AsyncState, SyncState
from qtasks.asyncio import QueueTasks

app = QueueTasks()


class Stats(AsyncState):
    """For async tasks: methods are awaited; one lock orders them."""

    initial: ClassVar[dict[str, Any]] = {"pages": 0}


class Seen(SyncState):
    """For sync tasks, which run in threads: plain methods under a thread lock."""


@app.task
async def crawl(url: str, stats: Stats) -> int:
    async def count(data: dict[str, Any]) -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()  # even with an await inside, no other update interleaves
        return {**data, "pages": data["pages"] + 1}

    return (await stats.update(count))["pages"]


@app.task
def remember(url: str, seen: Seen) -> bool:
    first_time = seen.get(url) is None
    seen.set(url, value=True)
    return first_time


async def main() -> None:
    async with app.running(concurrency=20):
        crawled = await app.add_tasks("crawl", [(f"https://example.org/{i}",) for i in range(100)])
        counts = [(await t.wait_result_async(5)).returning for t in crawled]
        firsts = [
            (await app.add_task("remember", url, timeout=5)).returning for url in ("a", "b", "a")
        ]
    print("pages counted:", max(counts), "| first time seen:", firsts)
    assert sorted(counts) == list(range(1, 101))
    assert firsts == [True, True, False]


if __name__ == "__main__":
    anyio.run(main)
