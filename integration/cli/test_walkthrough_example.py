"""examples/cli_walkthrough.py runs end to end against real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("qtasks_redis")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cli_walkthrough.py"


def test_the_walkthrough(redis_url: str) -> None:
    env = {**os.environ, "QTASKS_REDIS_URL": redis_url}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "$ qtasks add add 2 40 --wait 20\n  42\n  (exit code 0)" in out
    assert "\"sent 'hi' to ann@example.org\"" in out
    assert "error     ZeroDivisionError: division by zero" in out
    assert "Error: unknown task 'nosuch_task'" in out and "(exit code 2)" in out
    assert "default: purged 1 task(s)" in out
    assert "(worker exit code 0)" in out
