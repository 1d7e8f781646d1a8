"""SIGINT and SIGTERM on a real process: the first drains, a second stops at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")

SYNC_APP = """
import logging, sys, time
from qtasks import QueueTasks

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
app = QueueTasks("signals")

@app.task
def slow(n: int) -> int:
    print("started", n, flush=True)
    time.sleep(float(sys.argv[1]))
    print("finished", n, flush=True)
    return n

for i in range(3):
    app.add_task("slow", i)
app.run_forever(concurrency=1, prefetch=2)
print("exited cleanly", flush=True)
"""

ASYNC_APP = """
import logging, sys
import anyio
from qtasks.asyncio import QueueTasks

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
app = QueueTasks("signals")

@app.task
async def slow(n: int) -> int:
    print("started", n, flush=True)
    await anyio.sleep(float(sys.argv[1]))
    print("finished", n, flush=True)
    return n

async def main() -> None:
    await app.add_tasks("slow", [(i,) for i in range(3)])
    await app.run_forever(concurrency=1, prefetch=2)
    print("exited cleanly", flush=True)

anyio.run(main)
"""


def start(tmp_path: Path, source: str, seconds: float) -> subprocess.Popen[str]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(source))
    process = subprocess.Popen(
        [sys.executable, str(script), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the first task has started
    assert line.strip() == "started 0", process.stderr.read() if process.stderr else line
    return process


@pytest.mark.parametrize("source", [SYNC_APP, ASYNC_APP], ids=["sync app", "async app"])
def test_first_signal_lets_the_running_task_finish(tmp_path: Path, source: str) -> None:
    process = start(tmp_path, source, 0.5)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.splitlines() == ["finished 0", "exited cleanly"]  # 1 and 2 never started
    assert "SIGTERM received: finishing running tasks" in err
    assert "handed 2 unfinished task(s) back" in err


@pytest.mark.parametrize("source", [SYNC_APP, ASYNC_APP], ids=["sync app", "async app"])
def test_second_signal_stops_at_once(tmp_path: Path, source: str) -> None:
    process = start(tmp_path, source, 30)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - sent < 15
    assert process.returncode == 0, err
    assert "finished 0" not in out
    assert "SIGINT received again: stopping now" in err
    assert "handed 1 unfinished task(s) back" in err  # the interrupted one, not lost
