"""Two processes run the same timer against real Redis: each tick fires once, and when the
firing process is killed the other takes over within the lease's bound.

Process A is a worker with its timers (``qtasks run --timer``), process B a timer alone
(``qtasks timer run``). A starts first and leads; B waits. A is killed with SIGKILL (no
chance to hand the lease over); B must take over within ``lease_ttl * 4 / 3`` seconds plus
a tick, fire the missed ticks once (coalesced), and never a tick A fired.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

import anyio
import pytest

from ..conftest import delete_redis_keys

pytest.importorskip("qtasks_redis")

LEASE_TTL = 1.5

APP = f"""
import os

from qtasks.asyncio import QueueTasks
from qtasks_timer import AsyncTimer

app = QueueTasks(os.environ["QTASKS_TEST_APP"], broker=os.environ["QTASKS_TEST_REDIS"])


@app.task
def beat() -> None:
    return None


timer = AsyncTimer(app, lease_ttl={LEASE_TTL})
timer.add_task("beat", trigger="* * * * * *", id="every-second")
"""

FIRED = re.compile(
    r"schedule every-second tick (?P<tick>\S+) queued beat as (?P<uuid>[0-9a-f-]{36})"
    r"(?: \(standing for (?P<missed>\d+) missed tick\(s\)\))?"
)


@pytest.fixture
def project(tmp_path: Path, redis_url: str) -> Iterator[tuple[Path, dict[str, str], str]]:
    name = f"timer-it-{uuid.uuid4().hex[:10]}"
    (tmp_path / "tapp.py").write_text(textwrap.dedent(APP))
    env = {
        **os.environ,
        "QTASKS_TEST_APP": name,
        "QTASKS_TEST_REDIS": redis_url,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("QTASKS_APP", None)
    try:
        yield tmp_path, env, name
    finally:
        delete_redis_keys(redis_url, name)


def start(
    project: tuple[Path, dict[str, str], str], log: IO[str], *args: str
) -> subprocess.Popen[str]:
    cwd, env, _ = project
    return subprocess.Popen(
        [sys.executable, "-m", "qtasks_cli", "-A", "tapp:app", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )


def fires(path: Path) -> list[dict[str, str]]:
    return [m.groupdict() for m in FIRED.finditer(path.read_text())]


def wait_for(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s")


def test_two_processes_fire_each_tick_once_and_take_over(
    project: tuple[Path, dict[str, str], str], tmp_path: Path
) -> None:
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    with log_a.open("w") as out_a, log_b.open("w") as out_b:
        a = start(project, out_a, "run", "--timer", "--concurrency", "2")
        b = None
        try:
            wait_for(lambda: "is now the leader" in log_a.read_text(), 30)
            b = start(project, out_b, "timer", "run")
            wait_for(lambda: "running as" in log_b.read_text(), 30)
            wait_for(lambda: len(fires(log_a)) >= 5, 30)
            assert fires(log_b) == []  # B waits while A holds the lease
            a.send_signal(signal.SIGKILL)
            a.wait(10)
            killed_at = time.time()
            last_a = max(datetime.fromisoformat(f["tick"]).timestamp() for f in fires(log_a))
            wait_for(lambda: len(fires(log_b)) >= 3, 30)
            b.send_signal(signal.SIGTERM)
            assert b.wait(30) == 0
        finally:
            for proc in (a, b):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
    from_a, from_b = fires(log_a), fires(log_b)
    ticks = [f["tick"] for f in from_a + from_b]
    assert len(ticks) == len(set(ticks)), "a tick was fired twice"
    first_b = datetime.fromisoformat(from_b[0]["tick"]).timestamp()
    assert first_b > last_a
    # Takeover: the lease expires within LEASE_TTL of the kill, B notices within a third
    # of it, and fires the due tick at once (coalescing what was missed meanwhile).
    assert first_b - killed_at <= LEASE_TTL * 4 / 3 + 1.5
    missed = int(from_b[0]["missed"] or 0)
    assert first_b - last_a == pytest.approx(missed + 1, abs=0.01)
    assert "is now the leader" in log_b.read_text()
    for later in from_b[1:]:
        assert later["missed"] is None

    # Every fire is a stored task that records its schedule and tick.
    from qtasks.asyncio import QueueTasks

    _, env, name = project

    async def check() -> None:
        async with QueueTasks(name, broker=env["QTASKS_TEST_REDIS"]) as app:
            for fired in from_a + from_b:
                record = await app.get(fired["uuid"])
                assert record is not None
                assert record.headers["schedule"] == "every-second"
                assert record.headers["tick"] == fired["tick"]

    anyio.run(check)
