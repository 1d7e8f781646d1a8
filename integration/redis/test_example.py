"""examples/redis_app.py runs against the real server and prints what the docs say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "redis_app.py"


def test_the_redis_example_runs(redis_url: str, name: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env={**os.environ, "QTASKS_REDIS_URL": redis_url, "QTASKS_EXAMPLE_NAME": name},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == ["success cat.png@64px", "success cat.png@128px", "success cat.png@256px"]
    assert lines[3] == "RUNS IN HALF A SECOND"
    assert lines[4].startswith("ready: 0 in flight:")
