"""Every file in examples/ runs, as a user would run it, in its own process.

Markers in an example's first lines:
  ``# needs: redis`` (or rabbitmq, kafka): run only by the integration suite, with the server;
  ``# qtasks-example: serve``: a worker that runs until a signal; the test waits for its first
  line of output, sends SIGINT and expects a clean exit;
  ``# qtasks-example: module``: an app module other examples or the CLI load; it must import
  and run cleanly, printing nothing.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NEEDS = re.compile(r"^# needs: (.+)$", re.MULTILINE)


def header(path: Path) -> str:
    """The lines before the first import: the docstring and the markers under it."""
    source = path.read_text()
    imports = [n for n in ast.parse(source).body if isinstance(n, (ast.Import, ast.ImportFrom))]
    end = imports[0].lineno - 1 if imports else 20
    return "\n".join(source.splitlines()[:end])


def standalone_examples() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.py") if not NEEDS.search(header(p)))


@pytest.mark.parametrize("path", standalone_examples(), ids=lambda p: p.name)
def test_example_runs(path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if "# qtasks-example: serve" in header(path):
        process = subprocess.Popen(
            [sys.executable, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first, process.stderr.read() if process.stderr else "no output"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert "stopped cleanly" in out
        return
    result = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    if "# qtasks-example: module" not in header(path):
        shown = result.stdout.strip() or result.stderr.strip()  # unittest reports on stderr
        assert shown, "an example should show what it did"
