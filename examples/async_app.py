"""The async app: the same API awaited, with the worker in your own event loop.

Run it with `python examples/async_app.py`; no server needed.
"""

from __future__ import annotations

import anyio

from qtasks.asyncio import QueueTasks

app = QueueTasks("async-demo")


@app.task
async def fetch(url: str) -> dict[str, object]:
    await anyio.sleep(0.05)  # stands in for an HTTP call
    return {"url": url, "bytes": len(url) * 100}


@app.task(queue="reports", priority=5)
def summarize(sizes: list[int]) -> int:
    """A sync function: the worker runs it in a thread so the loop stays free."""
    return sum(sizes)


async def main() -> None:
    async with app.running(concurrency=20):
        urls = [f"https://example.org/page/{i}" for i in range(10)]
        queued = await app.add_tasks("fetch", [(url,) for url in urls])  # one round trip
        pages = [await task.wait_result_async(timeout=5) for task in queued]
        sizes = [int(page.returning["bytes"]) for page in pages]
        total = await app.add_task("summarize", sizes, timeout=5)
        print(f"fetched {len(pages)} pages, {total.returning} bytes in all")
        print(f"status of the last one: {pages[-1].status}, retries: {pages[-1].retries}")


if __name__ == "__main__":
    anyio.run(main)
