"""A worker process for the Kafka crash tests: python crash_worker.py KAFKA_URL APP_NAME DIR.

Tasks leave marker files in DIR so the test can see which process ran what: results live in
each process's own memory storage here (opted in), since qtasks-redis is not a dependency of
these tests; the markers stand in for a shared storage.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from qtasks import QueueTasks
from qtasks_kafka import KafkaBroker


def build(url: str, name: str, folder: Path) -> QueueTasks:
    broker = KafkaBroker.from_url(
        url,
        allow_memory_storage=True,
        session_timeout=3.0,
        heartbeat_interval=0.5,
        rebalance_grace=0.5,
    )
    app = QueueTasks(name, broker=broker)

    @app.task(echo=True)
    def hold(self, label: str) -> str:  # type: ignore[no-untyped-def]
        """Sleep for an hour on the first delivery; finish at once on any later one."""
        uuid = self.ctx.task_uuid
        (folder / f"started-{uuid}-{os.getpid()}").write_text(label)
        first = folder / f"first-{uuid}"
        try:
            with first.open("x") as marker:
                marker.write(str(os.getpid()))
        except FileExistsError:
            record = self.ctx.get_metadata()
            done = {"pid": os.getpid(), "retries": record.retries if record else None}
            (folder / f"done-{uuid}").write_text(json.dumps(done))
            return label
        time.sleep(3600)
        return label

    @app.task
    def die(label: str) -> None:
        """Kill the worker process on every delivery, as a segfault or an OOM kill would."""
        (Path(folder) / f"died-{label}-{os.getpid()}-{time.time()}").write_text("")
        os._exit(17)

    return app


def main() -> None:
    url, name, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    max_deliveries = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    app = build(url, name, folder)
    (folder / f"worker-{os.getpid()}").write_text("")
    app.run_forever(concurrency=4, max_deliveries=max_deliveries, fetch_timeout=1.0)


if __name__ == "__main__":
    main()
