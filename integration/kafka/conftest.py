"""Helpers shared by the Kafka integration tests: worker subprocesses and group inspection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

WORKER = Path(__file__).with_name("crash_worker.py")


class Workers:
    """Worker subprocesses of one test; every one still alive is killed at the end."""

    def __init__(self, url: str, name: str, folder: Path) -> None:
        self.url, self.name, self.folder = url, name, folder
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []

    def start(self, max_deliveries: int = 5) -> subprocess.Popen[bytes]:
        log = (self.folder / f"log-{len(self.processes)}.txt").open("wb")
        self._logs.append(log)
        process = subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                self.url,
                self.name,
                str(self.folder),
                str(max_deliveries),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for log in self._logs:
            log.close()

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.folder.glob("log-*.txt"))
        )

    def markers(self, prefix: str) -> list[str]:
        return sorted(p.name for p in self.folder.glob(f"{prefix}-*"))

    def wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll a condition on marker files; fail with the workers' logs if it never holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        raise AssertionError(
            f"timed out after {timeout}s waiting for {what}\n{self.logs()[-4000:]}"
        )


@pytest.fixture
def workers(kafka_url: str, tmp_path: Path) -> Iterator[Workers]:
    made = Workers(kafka_url, f"it-{uuid.uuid4().hex[:10]}", tmp_path)
    try:
        yield made
    finally:
        made.close()
