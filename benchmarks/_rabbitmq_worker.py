"""Worker process for rabbitmq_bench.py: ``python _rabbitmq_worker.py NAME URL CONCURRENCY``."""

from __future__ import annotations

import logging
import sys

from qtasks import QueueTasks

logging.basicConfig(level=logging.WARNING)
app = QueueTasks(sys.argv[1], broker=sys.argv[2])


@app.task
async def noop() -> None:
    return None


if __name__ == "__main__":
    app.run_forever(concurrency=int(sys.argv[3]))
