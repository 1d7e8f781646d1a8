"""The qtasks command against real Redis: a worker started by ``qtasks run`` processes tasks
queued by ``qtasks add`` from other processes, reports itself to ``inspect`` and drains on
SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import delete_redis_keys

pytest.importorskip("qtasks_redis")

APP = """
import os

import anyio
from qtasks import QueueTasks

app = QueueTasks(os.environ["QTASKS_TEST_APP"], broker=os.environ["QTASKS_TEST_REDIS"])


@app.task
def add(a: int, b: int) -> int:
    return a + b


@app.task
async def slow(seconds: float) -> str:
    await anyio.sleep(seconds)
    return "slept"


@app.task
def fail() -> None:
    raise ValueError("nope")
"""


@pytest.fixture
def project(tmp_path: Path, redis_url: str) -> Iterator[tuple[Path, dict[str, str]]]:
    name = f"cli-it-{uuid.uuid4().hex[:10]}"
    (tmp_path / "capp.py").write_text(textwrap.dedent(APP))
    env = {
        **os.environ,
        "QTASKS_TEST_APP": name,
        "QTASKS_TEST_REDIS": redis_url,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("QTASKS_APP", None)
    try:
        yield tmp_path, env
    finally:
        delete_redis_keys(redis_url, name)


def qtasks(
    project: tuple[Path, dict[str, str]], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    cwd, env = project
    return subprocess.run(
        [sys.executable, "-m", "qtasks_cli", "-A", "capp:app", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_worker_processes_tasks_added_by_the_command(
    project: tuple[Path, dict[str, str]],
) -> None:
    cwd, env = project
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qtasks_cli",
            "-A",
            "capp:app",
            "run",
            "--concurrency",
            "4",
            "--shutdown-timeout",
            "20",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as worker:
        try:
            done = qtasks(project, "add", "add", "2", "3", "--wait", "30")
            assert (done.returncode, done.stdout) == (0, "5\n"), done.stderr
            assert done.stderr == ""  # a real broker: no in-memory warning

            queued = qtasks(project, "add", "add", "40", "2")
            uuid_ = queued.stdout.strip()
            deadline = time.monotonic() + 30
            while True:
                record = json.loads(qtasks(project, "status", uuid_, "--json").stdout)
                if record["status"] == "success" or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert (record["status"], record["returning"], record["args"]) == (
                "success",
                42,
                [40, 2],
            )

            failed = qtasks(project, "add", "fail", "--wait", "30")
            assert failed.returncode == 1
            assert "ended with status error: ValueError: nope" in failed.stderr

            unknown = qtasks(project, "add", "nosuch")
            assert unknown.returncode == 2 and "unknown task 'nosuch'" in unknown.stderr

            seen = json.loads(qtasks(project, "inspect", "--json").stdout)
            assert [w["pid"] for w in seen["workers"]] == [worker.pid]
            assert seen["workers"][0]["queues"] == ["default"]  # heartbeats lag; no counts
            depth = json.loads(qtasks(project, "queues", "--json").stdout)
            assert depth[0]["queue"] == "default" and depth[0]["ready"] == 0

            # SIGTERM while a task runs: the worker finishes it, then exits 0.
            running = qtasks(project, "add", "slow", "1.5").stdout.strip()
            deadline = time.monotonic() + 30
            while (
                json.loads(qtasks(project, "status", running, "--json").stdout)["status"]
                != "process"
            ):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
    assert worker.returncode == 0, err
    assert "SIGTERM received: finishing running tasks" in err
    final = json.loads(qtasks(project, "status", running, "--json").stdout)
    assert (final["status"], final["returning"]) == ("success", "slept")
    assert json.loads(qtasks(project, "inspect", "--json").stdout)["workers"] == []


def test_purge_and_requeue_on_redis(project: tuple[Path, dict[str, str]]) -> None:
    for n in range(5):
        assert qtasks(project, "add", "add", str(n), "1", "--delay", "600").returncode == 0
    assert qtasks(project, "add", "add", "1", "1").returncode == 0
    depth = json.loads(qtasks(project, "queues", "--json").stdout)[0]
    assert (depth["ready"], depth["delayed"], depth["dead"]) == (1, 5, 0)
    purged = json.loads(qtasks(project, "purge", "--yes", "--json").stdout)
    assert purged["total"] == 6
    moved = json.loads(qtasks(project, "requeue-dead", "--json").stdout)
    assert moved["requeued"] == 0


def test_an_unreachable_broker_is_one_line_without_the_password(tmp_path: Path) -> None:
    from qtasks.testing.servers import free_port

    (tmp_path / "capp.py").write_text(textwrap.dedent(APP))
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    env = {**os.environ, "QTASKS_TEST_APP": "unreachable", "QTASKS_TEST_REDIS": url}
    for args in (["add", "add", "1", "2"], ["run"], ["queues"]):
        result = qtasks((tmp_path, env), *args)
        assert result.returncode == 3, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("Error: cannot reach the ")
        assert "redis://:***@127.0.0.1" in line and "hunter2" not in line
