"""The real ``qtasks`` command in child processes, on the in-memory default.

In memory, only the worker's own process can feed it, so these apps queue their own work
from a starter service: what is tested is the command (options, signals, exit codes, output),
not the broker. The Redis tests in integration/cli add tasks from a second command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .conftest import qtasks_command

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")

FED_APP = """
import os
from pathlib import Path

import anyio
from qtasks.asyncio import QueueTasks

LOG = Path(__file__).with_name("work.log")


def create_app():
    app = QueueTasks("fed")

    @app.task
    async def job(n: int, hold: float = 0.0) -> int:
        with LOG.open("a") as log:
            log.write(f"start {{n}} {{os.getpid()}}\\n")
        await anyio.sleep(hold)
        with LOG.open("a") as log:
            log.write(f"done {{n}}\\n")
        return n

    async def feeder(app):
        for n in range({count}):
            await app.add_task("job", n, hold={hold})
            await anyio.sleep(0.05)

    app.starter.add_service(feeder)
    return app
"""


def write(tmp_path: Path, count: int = 1000, hold: float = 0.0) -> Path:
    (tmp_path / "fed.py").write_text(textwrap.dedent(FED_APP).format(count=count, hold=hold))
    return tmp_path / "work.log"


def wait_for(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_a_worker_runs_until_sigterm_then_exits_cleanly(tmp_path: Path) -> None:
    log = write(tmp_path)
    with qtasks_command(
        "-A",
        "fed:create_app",
        "run",
        "--concurrency",
        "3",
        "-Q",
        "default",
        "--shutdown-timeout",
        "5",
        "--log-level",
        "debug",
        cwd=tmp_path,
    ) as proc:
        wait_for(lambda: sum(x.startswith("done") for x in lines(log)) >= 5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "consuming default with concurrency 3" in err
    assert "SIGTERM received: finishing running tasks" in err
    assert "stopped after" in err
    assert out == ""


def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    log = write(tmp_path, count=1, hold=60)
    with qtasks_command(
        "-A", "fed:create_app", "run", "--shutdown-timeout", "60", cwd=tmp_path
    ) as proc:
        wait_for(lambda: lines(log) and lines(log)[0].startswith("start"))
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert proc.poll() is None  # draining: the task may take its 60 s
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 10
    assert "SIGINT received again: stopping now" in err
    assert "handed 1 unfinished task(s) back" in err
    assert not any(x.startswith("done") for x in lines(log))


def test_errors_are_one_line_with_an_exit_code(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import qtasks_cli_missing_dependency\n")
    cases = [
        (["-A", "nowhere:app", "tasks"], 2, "Error: cannot import 'nowhere'"),
        (["-A", "broken:app", "run"], 2, "Error: importing 'broken' failed: ModuleNotFoundError"),
        (["run", "--concurrency", "0"], 2, "Invalid value for '-c' / '--concurrency'"),
    ]
    for args, code, message in cases:
        with qtasks_command(*args, cwd=tmp_path) as proc:
            out, err = proc.communicate(timeout=30)
        assert proc.returncode == code, err
        assert message in err
        assert out == ""
    with qtasks_command("-A", "nowhere:app", "tasks", cwd=tmp_path) as proc:
        _, err = proc.communicate(timeout=30)
    assert len(err.strip().splitlines()) == 1


def test_the_console_script_and_shell_completion(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("qtasks")
    assert script.exists(), "the qtasks console script is installed next to python"
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=True, timeout=30
    )
    assert version.stdout.startswith("qtasks, version ")
    env = {**os.environ, "_QTASKS_COMPLETE": "bash_source"}
    completion = subprocess.run(
        [str(script)], capture_output=True, text=True, env=env, check=True, timeout=30
    )
    assert "_qtasks_completion" in completion.stdout
    env = {
        **os.environ,
        "_QTASKS_COMPLETE": "bash_complete",
        "COMP_WORDS": "qtasks re",
        "COMP_CWORD": "1",
    }
    words = subprocess.run(
        [str(script)], capture_output=True, text=True, env=env, check=True, timeout=30
    )
    assert "requeue-dead" in words.stdout


def test_reload_restarts_the_worker_when_a_file_changes(tmp_path: Path) -> None:
    log = write(tmp_path, count=1)
    with qtasks_command(
        "-A",
        "fed:create_app",
        "run",
        "--reload",
        "--reload-dir",
        str(tmp_path),
        "--shutdown-timeout",
        "5",
        cwd=tmp_path,
    ) as proc:
        wait_for(lambda: len(lines(log)) >= 2)
        first_pid = lines(log)[0].split()[2]
        source = tmp_path / "fed.py"
        source.write_text(source.read_text() + "\n# edited\n")
        later = time.time() + 5
        os.utime(source, (later, later))  # a new mtime even on coarse filesystems
        wait_for(lambda: len({x.split()[2] for x in lines(log) if x.startswith("start")}) >= 2)
        assert {x.split()[2] for x in lines(log) if x.startswith("start")} - {first_pid}
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "qtasks --reload: watching" in err
    assert "fed.py changed; restarting the worker" in err


ECHO_APP = """
from qtasks import QueueTasks

app = QueueTasks("echoes")


@app.task
def echo(*words: object) -> list[object]:
    return list(words)
"""


def test_an_option_typo_is_an_error_not_a_task_argument(tmp_path: Path) -> None:
    (tmp_path / "echoes.py").write_text(ECHO_APP)
    with qtasks_command(
        "-A", "echoes:app", "add", "echo", "1", "--priorty", "3", "--json", cwd=tmp_path
    ) as proc:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err
    assert out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("Error: no such option '--priorty' for 'qtasks add'")
    assert "(did you mean --priority?)" in line and "put -- before the task's arguments" in line
    # after --, the same word is the task's, and negative numbers never needed it
    with qtasks_command(
        "-A", "echoes:app", "add", "echo", "-3", "--json", "--", "1", "--priorty", cwd=tmp_path
    ) as proc:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert '"args": [\n    -3,\n    1,\n    "--priorty"\n  ]' in out


def test_a_task_given_as_the_app_names_the_app(tmp_path: Path) -> None:
    (tmp_path / "echoes.py").write_text(ECHO_APP)
    with qtasks_command("-A", "echoes:echo", "tasks", cwd=tmp_path) as proc:
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and out == ""
    assert err.strip() == (
        "Error: 'echoes:echo' is the task 'echo', not a QueueTasks app: it belongs to app "
        "'echoes'; point -A at the app: -A echoes:app"
    )
