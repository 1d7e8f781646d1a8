"""RabbitMQ integration fixtures: fresh app names, worker subprocesses, Redis storage, cleanup.

Each test uses an app name of its own and deletes only the queues and exchanges of that
name (and, with ``storage_url``, the Redis keys of that name) at the end; worker processes it
started are killed by pid.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from ..conftest import delete_rabbitmq_queues, delete_redis_keys

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker_app.py"

SpawnWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def app_name(amqp_url: str) -> Iterator[str]:
    """A fresh app name; its queues (default queue, delay levels, dead letters) go at the end."""
    name = f"qtrmq-it-{uuid.uuid4().hex[:10]}"
    yield name
    anyio.run(delete_rabbitmq_queues, amqp_url, name)


@pytest.fixture
def storage_url(redis_url: str, app_name: str) -> Iterator[str]:
    """The shared Redis as the app's storage; the app's task records go at the end."""
    yield redis_url
    delete_redis_keys(redis_url, app_name)


@pytest.fixture
def spawn_worker(amqp_url: str, tmp_path: Path) -> Iterator[SpawnWorker]:
    """Start ``worker_app.py`` processes; every one still alive is killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(
        name: str, concurrency: int = 4, storage: str | None = None
    ) -> subprocess.Popen[bytes]:
        env = {**os.environ, "QTASKS_IT_CONCURRENCY": str(concurrency)}
        command = [sys.executable, str(WORKER), name, amqp_url, *([storage] if storage else [])]
        with (tmp_path / f"worker-{len(started)}.log").open("wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def rabbitmqctl() -> str | None:
    """The rabbitmqctl binary, when this machine runs the server itself."""
    return shutil.which("rabbitmqctl")
