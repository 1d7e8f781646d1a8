"""qtasks-timer and qtasks-cli together, in memory: the `timer` subcommand and `run --timer`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from qtasks_cli import cli

ROOT = Path(__file__).resolve().parents[2]

APP = """
from pathlib import Path

from qtasks.asyncio import QueueTasks
from qtasks_timer import AsyncTimer

LOG = Path(__file__).with_name("beats.log")
app = QueueTasks("{name}")
timer = AsyncTimer(app, lease_ttl=2)
nightly = AsyncTimer(app, name="nightly", timezone="Europe/Paris")


@timer.every(0.2, id="beat")
@app.task(echo=True)
async def beat(self) -> None:
    record = await self.ctx.get_metadata()
    with LOG.open("a") as log:
        log.write(record.headers["schedule"] + " " + record.headers["tick"] + "\\n")


nightly.add_task("beat", trigger="0 3 * * *", id="three-am", missed="skip")
plain = QueueTasks("{name}-plain")
"""


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"timer_cli_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(APP).format(name=name))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), prog_name="qtasks")


def test_timer_list(module: str) -> None:
    result = invoke("-A", f"{module}:app", "timer", "list")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    out = result.stdout.splitlines()  # type: ignore[attr-defined]
    assert out[0] == "timer default: fired by nobody right now"
    assert out[1].split() == ["SCHEDULE", "TASK", "TRIGGER", "MISSED", "NEXT", "LAST", "LAST_TASK"]
    assert out[2].split()[:5] == ["beat", "beat", "every", "0.2s", "coalesce"]
    assert out[4] == "timer nightly: fired by nobody right now"
    assert "cron '0 3 * * *' Europe/Paris" in out[6] and "skip" in out[6]
    data = json.loads(
        invoke("-A", f"{module}:app", "timer", "list", "--json", "--timer", "nightly").stdout  # type: ignore[attr-defined]
    )
    (only,) = data
    assert only["timer"] == "nightly" and only["leader"] is None
    assert only["schedules"][0]["id"] == "three-am"
    assert only["schedules"][0]["next_tick"].endswith("+00:00")


def test_timer_errors(module: str) -> None:
    none = invoke("-A", f"{module}:plain", "timer", "list")
    assert none.exit_code == 2  # type: ignore[attr-defined]
    assert "has no timers; create one with AsyncTimer(app)" in none.stderr  # type: ignore[attr-defined]
    wrong = invoke("-A", f"{module}:app", "timer", "list", "--timer", "hourly")
    assert wrong.exit_code == 2  # type: ignore[attr-defined]
    assert "no timer named hourly (timers: default, nightly)" in wrong.stderr  # type: ignore[attr-defined]
    service = invoke("-A", f"{module}:plain", "run", "--timer")
    assert service.exit_code == 2  # type: ignore[attr-defined]
    assert "has no timers" in service.stderr  # type: ignore[attr-defined]


def _child(module: str, cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "qtasks_cli", "-A", f"{module}:app", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_lines(path: Path, count: int, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} lines in {path}")


@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_run_with_timer_fires_in_the_worker_process(module: str, tmp_path: Path) -> None:
    with _child(module, tmp_path, "run", "--timer", "--concurrency", "2") as proc:
        lines = _wait_lines(tmp_path / "beats.log", 4)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    ticks = [line.split()[1] for line in lines]
    assert all(line.startswith("beat ") for line in lines)
    assert len(set(ticks)) == len(ticks)
    assert "timer default: " in err and "is now the leader" in err


@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_timer_run_alone_stops_on_a_signal(module: str, tmp_path: Path) -> None:
    with _child(module, tmp_path, "timer", "run", "--timer", "default") as proc:
        deadline = time.monotonic() + 20
        err = ""
        while "is now the leader" not in err:
            assert time.monotonic() < deadline and proc.poll() is None
            err += _read_some(proc)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 0, err + rest
    assert "queued beat as" in err + rest
    assert "in-memory broker" in err + rest


def _read_some(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    return proc.stderr.readline()


def test_the_timer_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "timer_app.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = result.stdout.splitlines()
    assert out[0].split()[:2] == ["weekday-report", "report"]
    assert sum(line.startswith("fired: heartbeat @ ") for line in out) >= 3
