"""QTasks quick start: tasks, a worker and results, all in this one process (no server).

Run it with `python examples/quickstart.py`.
"""

from __future__ import annotations

import anyio

from qtasks import QueueTasks

app = QueueTasks()  # in-memory broker, storage and global config


@app.task
def add(a: int, b: int) -> int:
    """A plain function: runs in a worker thread, never blocking the event loop."""
    return a + b


@app.task(priority=-1, retry=2, retry_backoff=0.01)
async def fetch_page(url: str) -> dict[str, object]:
    """An async task with a higher priority (lower number) and two retries."""
    await anyio.sleep(0.01)  # stands in for real I/O
    return {"url": url, "status": 200}


def main() -> None:
    queued = app.add_task("add", 1, 2)  # returns at once
    print(f"queued:   {queued.task_name} {queued.uuid} status={queued.status}")

    with app.running(concurrency=4):  # a worker on a background thread
        print(f"finished: add -> {queued.wait_result(timeout=5).returning}")
        page = fetch_page.add_task("https://example.org", timeout=5)  # waits for the result
        print(f"finished: fetch_page -> {page.status} {page.returning}")
        many = app.add_tasks("add", [(i, i) for i in range(5)])
        print("bulk:     ", [t.wait_result(timeout=5).returning for t in many])

    app.close()


if __name__ == "__main__":
    main()
