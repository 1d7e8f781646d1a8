"""A tour of the `qtasks` command, run for real: a worker, tasks added from other processes,
their status, the queues and the live workers.

Needs a Redis server and qtasks-redis (`pip install qtasks-redis qtasks-cli`): the worker and
the commands are separate processes, so they need a broker they can share. The server is read
from QTASKS_REDIS_URL (default redis://127.0.0.1:6379/0); everything it creates is namespaced
by a fresh app name and removed at the end.

    python examples/cli_walkthrough.py

Each step prints the command (as you would type it) and its output.
"""

# needs: redis
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
REDIS = os.environ.get("QTASKS_REDIS_URL", "redis://127.0.0.1:6379/0")
ENV = {
    **os.environ,
    "QTASKS_BROKER": REDIS,
    "QTASKS_EXAMPLE_APP": f"cli-walkthrough-{uuid.uuid4().hex[:8]}",
    "QTASKS_APP": "cli_app:app",  # instead of -A on every command
    "PYTHONUNBUFFERED": "1",
}
QTASKS = [sys.executable, "-m", "qtasks_cli"]


def qtasks(*args: str) -> subprocess.CompletedProcess[str]:
    print(f"$ qtasks {shlex.join(args)}")
    result = subprocess.run(
        [*QTASKS, *args],
        cwd=HERE,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for line in (result.stdout + result.stderr).rstrip().splitlines():
        print(f"  {line}")
    print(f"  (exit code {result.returncode})")
    return result


def main() -> int:
    print(f"$ qtasks run --concurrency 4 &    # app {ENV['QTASKS_EXAMPLE_APP']} on {REDIS}")
    worker = subprocess.Popen(
        [*QTASKS, "run", "--concurrency", "4", "--log-level", "warning"],
        cwd=HERE,
        env=ENV,
        text=True,
        stderr=subprocess.PIPE,
    )
    try:
        qtasks("tasks")
        qtasks("add", "add", "2", "40", "--wait", "20")
        qtasks(
            "add", "send_email", "ann@example.org", "--kwargs", '{"subject": "hi"}', "--wait", "20"
        )
        queued = qtasks("add", "divide", "1", "0").stdout.strip()
        time.sleep(1.0)
        qtasks("status", queued)
        qtasks("add", "nosuch_task")
        qtasks("add", "add", "1", "2", "--delay", "3600")
        qtasks("queues")
        qtasks("inspect")
        qtasks("purge", "--yes")
    finally:
        print("$ kill -TERM %1    # the worker drains and exits")
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
        print(f"  (worker exit code {worker.returncode})")
        _cleanup()
    return worker.returncode


def _cleanup() -> None:
    client = redis.Redis.from_url(REDIS)
    stale = list(client.scan_iter(match=f"qtasks*{ENV['QTASKS_EXAMPLE_APP']}*", count=1000))
    if stale:
        client.delete(*stale)
    client.close()


if __name__ == "__main__":
    sys.exit(main())
