"""One app on any broker: the tasks and `run()` never change, only the URLs do.

Run it with `python examples/any_broker.py [BROKER_URL [STORAGE_URL]]`. With no argument it
uses the in-memory components of qtasks-core and needs no server. Each other broker is a
package and a URL away (the servers below are what that URL needs):

    python examples/any_broker.py redis://127.0.0.1:6379/0                   # qtasks-redis
    python examples/any_broker.py amqp://guest:guest@127.0.0.1:5672/         # qtasks-rabbitmq
    python examples/any_broker.py amqp://guest:guest@127.0.0.1:5672/ redis://127.0.0.1:6379/0
    python examples/any_broker.py "kafka://127.0.0.1:9092?priority_bands=-1,4" \
        redis://127.0.0.1:6379/0                                             # qtasks-kafka

RabbitMQ with no storage sends results back by direct reply-to; Kafka keeps no results, so it
is given a storage every process can read. Kafka orders by priority only with priority bands,
which are part of its URL too. Every run prints the same results; integration/
test_same_app_everywhere.py checks that on all four brokers.
"""

from __future__ import annotations

import itertools
import sys
import uuid
from collections.abc import Generator
from typing import Any

import anyio

from qtasks import QueueTasks
from qtasks.exceptions import Retry

#: Seconds the delayed task waits before a worker may take it.
DELAY = 0.5


def build_app(
    broker: str | None = None, storage: str | None = None, name: str | None = None
) -> QueueTasks:
    """The example app on ``broker`` and ``storage`` (None: in memory), under a fresh name."""
    app = QueueTasks(name or f"any-broker-{uuid.uuid4().hex[:8]}", broker=broker, storage=storage)
    attempts: dict[str, int] = {}
    started = itertools.count(1)

    @app.task
    def add(a: int, b: int) -> int:
        """A plain function: runs in a worker thread."""
        return a + b

    @app.task
    async def square(n: int) -> int:
        """A coroutine: runs on the worker's event loop."""
        await anyio.sleep(0.01)
        return n * n

    @app.task(retry=3, retry_backoff=0.05)
    def flaky(key: str) -> str:
        """Fails twice, then succeeds: each retry is a new message, after a backoff."""
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < 3:
            raise Retry(f"attempt {attempts[key]} of {key} is not enough")
        return f"{key} after {attempts[key]} attempts"

    @app.task
    def rank(label: str) -> int:
        """Which place this task ran in: shows the order the worker picked tasks in."""
        return next(started)

    def review(step: str) -> str:
        """Sees every value the pipeline yields; what it returns is sent back in."""
        return step.upper()

    @app.task(generate_handler=review)
    def pipeline(name: str) -> Generator[str, str, str]:
        """A generator task: each step goes through ``review``; the return is the result."""
        loaded = yield f"load {name}"
        cleaned = yield f"clean after {loaded}"
        return f"{name}: {cleaned}"

    @app.task
    def divide(a: int, b: int) -> float:
        """Raises on b == 0: the error is the task's result, not the producer's exception."""
        return a / b

    return app


def run(app: QueueTasks) -> dict[str, Any]:
    """Queue a fixed mix of work, serve it, and return plain results (the same on any broker)."""
    # Queued before any worker runs, so the worker sees all three and picks by priority.
    ranked = {
        label: app.add_task("rank", label, priority=priority)
        for label, priority in (("low", 5), ("high", -5), ("normal", 0))
    }
    with app.running(concurrency=1):  # one task at a time, so the order is visible
        total = app.add_task("add", 2, 3, timeout=30)
        squares = app.add_tasks("square", [(n,) for n in range(5)])
        retried = app.add_task("flaky", "job-1", timeout=30)
        later = app.add_task("add", 40, 2, delay=DELAY, timeout=30)
        steps = app.add_task("pipeline", "orders", timeout=30)
        failed = app.add_task("divide", 1, 0, timeout=30)
        places = {label: task.wait_result(timeout=30).returning for label, task in ranked.items()}
        waited = (later.started_at - later.created_at).total_seconds() if later.started_at else 0
        return {
            "add": total.returning,
            "squares": [task.wait_result(timeout=30).returning for task in squares],
            "flaky": retried.returning,
            "flaky_retries": retried.retries,
            "delayed": later.returning,
            "delay_held": waited >= DELAY,
            "pipeline": steps.returning,
            "pipeline_progress": steps.progress,
            "priority_order": sorted(places, key=places.__getitem__),
            "error": (str(failed.status), failed.error),
        }


def main() -> None:
    app = build_app(*sys.argv[1:3])
    try:
        for key, value in run(app).items():
            print(f"{key:18} {value}")
    finally:
        app.close()


if __name__ == "__main__":
    main()
