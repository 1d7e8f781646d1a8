"""examples/kafka_app.py runs against the Kafka-protocol server and prints the right results."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).parents[2] / "examples" / "kafka_app.py"


def test_the_kafka_example_runs(kafka_url: str) -> None:
    env = {**os.environ, "QTASKS_APP_NAME": f"example-{uuid.uuid4().hex[:8]}"}
    env.pop("QTASKS_STORAGE_URL", None)
    # Short group timings: Tansu holds a new group's first join for half the session timeout.
    url = (
        kafka_url
        + ("&" if "?" in kafka_url else "?")
        + "session_timeout=1.5&heartbeat_interval=0.3"
    )
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(None, 1) for line in done.stdout.strip().splitlines())
    assert lines == {
        "add": "5",
        "squares": "[0, 1, 4, 9, 16]",
        "flaky": "job-1 after 3 attempts",
        "flaky_retries": "2",
        "delayed": "42",
    }
