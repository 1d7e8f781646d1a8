"""A worker process for the RabbitMQ integration tests: ``python worker_app.py NAME URL [STORAGE]``.

It serves the app named NAME on RabbitMQ at URL until it is killed or gets SIGTERM. Results go
to STORAGE (a Redis URL) when given, else back to the producer by direct reply-to.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from qtasks import QueueTasks

NAME = sys.argv[1] if len(sys.argv) > 1 else "qtasks-it"
URL = sys.argv[2] if len(sys.argv) > 2 else "amqp://guest:guest@127.0.0.1:5672/"
STORAGE = sys.argv[3] if len(sys.argv) > 3 else None
app = QueueTasks(NAME, broker=URL, storage=STORAGE)


@app.task
def whoami() -> int:
    """Which process ran it."""
    return os.getpid()


@app.task
def hang_once(marker: str) -> int:
    """The first run marks the file and hangs (to be killed); any later run returns at once."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        time.sleep(120)
    return os.getpid()


@app.task(echo=True)
def hang_first(self) -> int:  # type: ignore[no-untyped-def]
    """Hang on the first delivery (to be killed); a redelivery returns at once.

    The delivery count comes from the shared storage's record, so this needs STORAGE.
    """
    record = self.ctx.get_metadata()
    if record is None or record.retries == 0:
        time.sleep(120)
    return os.getpid()


@app.task
def add(a: int, b: int) -> int:
    return a + b


if __name__ == "__main__":
    app.run_forever(concurrency=int(os.environ.get("QTASKS_IT_CONCURRENCY", "4")))
