"""QTasks on Kafka: a topic per queue, one consumer group per app, results in a shared storage.

Needs a Kafka-protocol server. Run it with `python examples/kafka_app.py [KAFKA_URL]`; the URL
defaults to $QTASKS_KAFKA_URL, then kafka://127.0.0.1:9092. Kafka keeps no results, so the
app needs a storage that every process can read: set $QTASKS_STORAGE_URL (for example
redis://127.0.0.1:6379/0, with qtasks-redis installed). Without one, this demo opts in to the
in-memory storage, which is fine here only because producer and worker share this process.

The app name (and so the topics, `qtasks.<name>.default` ...) comes from $QTASKS_APP_NAME,
else a fresh one per run. The tasks and `run()` use nothing Kafka-specific: the same app runs
on any broker by changing the URL (examples/any_broker.py is one such app, run on every broker
by integration/test_same_app_everywhere.py).
"""

# needs: kafka
from __future__ import annotations

import os
import sys
import uuid
from typing import Any

import anyio

from qtasks import QueueTasks
from qtasks.exceptions import Retry

DEFAULT_URL = os.environ.get("QTASKS_KAFKA_URL", "kafka://127.0.0.1:9092")


def build_app(broker: str = DEFAULT_URL, storage: str | None = None) -> QueueTasks:
    """The example app on ``broker`` (and ``storage``, if given)."""
    name = os.environ.get("QTASKS_APP_NAME") or f"kafka-example-{uuid.uuid4().hex[:8]}"
    storage = storage or os.environ.get("QTASKS_STORAGE_URL")
    if storage is None and broker.startswith("kafka://"):
        # One process only: say so explicitly, or the Kafka broker refuses memory storage.
        broker += ("&" if "?" in broker else "?") + "allow_memory_storage=true"
    app = QueueTasks(name, broker=broker, storage=storage)
    attempts: dict[str, int] = {}

    @app.task
    def add(a: int, b: int) -> int:
        """A plain function: runs in a worker thread."""
        return a + b

    @app.task(priority=-1)
    async def square(n: int) -> int:
        """An async task; on Kafka its priority orders it only with priority bands set."""
        await anyio.sleep(0.01)
        return n * n

    @app.task(retry=3, retry_backoff=0.05)
    def flaky(key: str) -> str:
        """Fails twice, then succeeds: each retry is a new record, through a delay topic."""
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < 3:
            raise Retry(f"attempt {attempts[key]} of {key} is not enough")
        return f"{key} after {attempts[key]} attempts"

    return app


def run(app: QueueTasks) -> dict[str, Any]:
    """Queue some work, serve it, and return plain results (comparable across brokers)."""
    with app.running(concurrency=4):
        total = app.add_task("add", 2, 3, timeout=60)
        squares = app.add_tasks("square", [(n,) for n in range(5)])
        retried = app.add_task("flaky", "job-1", timeout=60)
        later = app.add_task("add", 40, 2, delay=0.3, timeout=60)
        return {
            "add": total.returning,
            "squares": [t.wait_result(timeout=60).returning for t in squares],
            "flaky": retried.returning,
            "flaky_retries": retried.retries,
            "delayed": later.returning,
        }


def main() -> None:
    app = build_app(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL)
    try:
        for key, value in run(app).items():
            print(f"{key:14} {value}")
    finally:
        app.close()


if __name__ == "__main__":
    main()
