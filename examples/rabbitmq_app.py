"""QTasks on RabbitMQ, with no database: results come back by direct reply-to.

Needs a RabbitMQ server. Run it with `python examples/rabbitmq_app.py [AMQP_URL]`; the URL
defaults to $QTASKS_AMQP_URL, then amqp://guest:guest@127.0.0.1:5672/. The app name (and so
the queue names on the server, `<name>.q.default` ...) comes from $QTASKS_APP_NAME.

The tasks and `run()` use nothing RabbitMQ-specific: the same app runs on any broker by
changing the URL (`build_app("redis://...")`, `build_app("memory://")`); examples/any_broker.py
is one such app, run on every broker by integration/test_same_app_everywhere.py.
"""

# needs: rabbitmq
from __future__ import annotations

import os
import sys
from typing import Any

import anyio

from qtasks import QueueTasks
from qtasks.exceptions import Retry

DEFAULT_URL = os.environ.get("QTASKS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def build_app(broker: str = DEFAULT_URL, storage: str | None = None) -> QueueTasks:
    """The example app on ``broker`` (and ``storage``, if given)."""
    name = os.environ.get("QTASKS_APP_NAME", "rabbitmq-example")
    app = QueueTasks(name, broker=broker, storage=storage)
    attempts: dict[str, int] = {}

    @app.task
    def add(a: int, b: int) -> int:
        """A plain function: runs in a worker thread."""
        return a + b

    @app.task(priority=-1)
    async def square(n: int) -> int:
        """An async task queued ahead of others (lower number first)."""
        await anyio.sleep(0.01)
        return n * n

    @app.task(retry=3, retry_backoff=0.05)
    def flaky(key: str) -> str:
        """Fails twice, then succeeds: each retry is a new message, after a backoff."""
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < 3:
            raise Retry(f"attempt {attempts[key]} of {key} is not enough")
        return f"{key} after {attempts[key]} attempts"

    return app


def run(app: QueueTasks) -> dict[str, Any]:
    """Queue some work, serve it, and return plain results (comparable across brokers)."""
    with app.running(concurrency=4):
        total = app.add_task("add", 2, 3, timeout=30)
        squares = app.add_tasks("square", [(n,) for n in range(5)])
        retried = app.add_task("flaky", "job-1", timeout=30)
        later = app.add_task("add", 40, 2, delay=0.3, timeout=30)
        return {
            "add": total.returning,
            "squares": [t.wait_result(timeout=30).returning for t in squares],
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
