"""examples/rabbitmq_app.py runs against the real server and matches the in-memory run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rabbitmq_app.py"


def _run(url: str, app_name: str) -> str:
    env = {**os.environ, "QTASKS_APP_NAME": app_name}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    return result.stdout


def test_the_example_gives_the_same_results_on_rabbitmq_and_in_memory(
    amqp_url: str, app_name: str
) -> None:
    on_rabbitmq = _run(amqp_url, app_name)
    assert "squares        [0, 1, 4, 9, 16]" in on_rabbitmq
    assert "delayed        42" in on_rabbitmq
    assert on_rabbitmq == _run("memory://", app_name)
