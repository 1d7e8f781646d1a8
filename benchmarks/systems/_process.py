"""A worker in its own process group, the way a user would start one from a shell."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import IO

__all__ = ["WorkerProcess"]


class WorkerProcess:
    """``command`` run with its output in ``log``; stopped with SIGTERM, then SIGKILL.

    The process leads a new session, so killing its group also ends the children it forked
    (celery prefork children, rq work horses, dramatiq worker processes).
    """

    def __init__(self, command: Sequence[str], env: dict[str, str], cwd: str, log: Path) -> None:
        self.command = list(command)
        self.env = env
        self.cwd = cwd
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    def start(self) -> None:
        """Launch the worker (no waiting for it to be ready)."""
        if self._process is not None:
            raise RuntimeError(f"worker already running: {self.command}")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._output = self.log.open("ab")
        self._output.write(f"\n$ {' '.join(self.command)}\n".encode())
        self._output.flush()
        self._process = subprocess.Popen(
            self.command,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )

    def problem(self) -> str | None:
        """Why the worker is not running, if it exited on its own."""
        if self._process is None:
            return "the worker was not started"
        code = self._process.poll()
        if code is None:
            return None
        return f"the worker exited with code {code}; log {self.log}:\n{self.tail()}"

    async def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the worker, wait up to ``grace`` seconds, then kill whatever is left."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    await asyncio.to_thread(process.wait, grace)
            # The group may outlive its leader (forked children); end it either way.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            if process.poll() is None:
                process.wait(10)
        finally:
            if self._output is not None:
                self._output.close()
                self._output = None

    def tail(self, lines: int = 25) -> str:
        """The last ``lines`` lines of the worker's log."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
