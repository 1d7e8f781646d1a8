"""A worker process for the Kafka crash tests: python crash_worker.py KAFKA_URL REDIS_URL NAME.

Results go to the Redis storage that the test reads too, as in a real deployment: the test
sees which process runs a task (its progress), how often it was delivered and how it ended
through ``app.get`` and ``wait_result``, never through files.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Generator

from qtasks import QueueTasks
from qtasks_kafka import KafkaBroker


def build(url: str, storage: str, name: str) -> QueueTasks:
    broker = KafkaBroker.from_url(
        url, session_timeout=3.0, heartbeat_interval=0.5, rebalance_grace=0.5
    )
    app = QueueTasks(name, broker=broker, storage=storage)

    @app.task(echo=True)
    def hold(self, label: str) -> Generator[int, None, int]:  # type: ignore[no-untyped-def]
        """Report this process in the stored progress; hang on the first delivery only."""
        record = self.ctx.get_metadata()
        yield os.getpid()
        if record is None or record.retries == 0:
            time.sleep(3600)
        return os.getpid()

    @app.task
    def die(label: str) -> None:
        """Kill the worker process on every delivery, as a segfault or an OOM kill would."""
        os._exit(17)

    return app


def main() -> None:
    url, storage, name = sys.argv[1], sys.argv[2], sys.argv[3]
    max_deliveries = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    app = build(url, storage, name)
    app.run_forever(concurrency=4, max_deliveries=max_deliveries, fetch_timeout=1.0)


if __name__ == "__main__":
    main()
