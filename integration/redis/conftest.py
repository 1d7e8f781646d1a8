from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

WORKER = Path(__file__).with_name("worker_app.py")

Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def name(redis_url: str) -> Iterator[str]:
    """A fresh app name; its keys are deleted afterwards."""
    value = f"it-{uuid.uuid4().hex[:10]}"
    yield value
    client = redis.Redis.from_url(redis_url)
    for pattern in (f"qtasks:{{{value}*", f"qtasks:{value}:*", f"{value}:*"):
        found = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(found), 1000):
            client.delete(*found[start : start + 1000])
    client.close()


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start worker subprocesses; whatever is still running at the end is stopped."""
    started: list[subprocess.Popen[bytes]] = []

    def start(url: str, name: str, *options: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), url, name, *options],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
