from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qtasks_cli import cli

#: An app module the tests write next to themselves: two tasks, in memory.
BASIC = """
from qtasks import QueueTasks

app = QueueTasks("{name}")


@app.task(retry=2, description="Adds two numbers.")
def add(a: int, b: int) -> int:
    return a + b


@app.task(queue="slow", priority=3)
async def nap(seconds: float = 0.0) -> None:
    '''Sleeps.'''
"""

WriteApp = Callable[..., str]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def write_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteApp:
    """Write an app module into a temporary directory (the cwd) and return its module name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source: str = BASIC, **fmt: str) -> str:
        module = f"app_{uuid.uuid4().hex[:10]}"
        fmt.setdefault("name", module)
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source).format(**fmt))
        return module

    return write


@pytest.fixture
def invoke() -> Callable[..., Result]:
    runner = CliRunner()

    def run(*args: str, **kwargs: object) -> Result:
        return runner.invoke(cli, list(args), prog_name="qtasks", **kwargs)  # type: ignore[arg-type]

    return run


def qtasks_command(
    *args: str, cwd: Path, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.Popen[str]:
    """The real command in a child process (``python -m qtasks_cli``)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("QTASKS_APP", None)
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "qtasks_cli", *args],
        cwd=cwd,
        env=full_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )
