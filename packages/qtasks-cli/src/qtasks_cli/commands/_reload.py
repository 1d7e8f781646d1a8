"""``run --reload``: a supervisor that restarts the worker when source files change.

Change detection polls file modification times (no extra dependency, works on every
filesystem including network mounts and containers' bind mounts). The worker runs as a child
``python -m qtasks_cli ... run``; on a change it gets SIGTERM (a graceful drain) and a new
one starts. A worker that crashes (a syntax error just saved) is restarted by the next change.
SIGINT/SIGTERM sent to the supervisor go to the worker, and the supervisor exits with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

import click

__all__ = ["scan", "supervise"]

#: Directories never worth watching.
_SKIP = {"__pycache__", "node_modules", "site-packages", "venv", "build", "dist"}
_SUFFIXES = (".py",)
POLL_INTERVAL = 0.5
#: How long a worker being replaced may take to drain before it is killed.
_REPLACE_TIMEOUT = 10.0


def scan(dirs: list[Path]) -> dict[str, int]:
    """Every watched file under ``dirs`` with its modification time in nanoseconds."""
    found: dict[str, int] = {}
    for root in dirs:
        for current, subdirs, files in os.walk(root):
            subdirs[:] = [d for d in subdirs if not d.startswith(".") and d not in _SKIP]
            for name in files:
                if name.endswith(_SUFFIXES):
                    path = os.path.join(current, name)
                    try:
                        found[path] = os.stat(path).st_mtime_ns
                    except OSError:  # removed while walking
                        continue
    return found


def _changes(before: dict[str, int], after: dict[str, int]) -> list[str]:
    changed = [p for p, mtime in after.items() if before.get(p) != mtime]
    return sorted(changed + [p for p in before if p not in after])


def supervise(argv: list[str], dirs: list[Path]) -> int:
    """Run ``qtasks <argv>`` and restart it on changes until a signal; return its exit code."""
    stop = threading.Event()
    child: subprocess.Popen[bytes] | None = None
    signals_seen = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal signals_seen
        signals_seen += 1
        stop.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    command = [sys.executable, "-m", "qtasks_cli", *argv]
    watched = ", ".join(str(d) for d in dirs)
    _say(f"watching {watched} for changes to .py files")
    snapshot = scan(dirs)
    try:
        while not stop.is_set():
            child = subprocess.Popen(command)  # noqa: S603 - this interpreter, our arguments
            changed = _watch(child, dirs, snapshot, stop)
            if changed is None:
                break
            snapshot = scan(dirs)
            _say(f"{_name(changed)} changed; restarting the worker")
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(_REPLACE_TIMEOUT)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        # Stopping: the signal was forwarded; wait for the worker to drain and exit.
        code = child.wait() if child is not None else 0
        return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _watch(
    child: subprocess.Popen[bytes],
    dirs: list[Path],
    snapshot: dict[str, int],
    stop: threading.Event,
) -> list[str] | None:
    """Wait for a change (returned) or a stop signal (``None``)."""
    reported = False
    while not stop.wait(POLL_INTERVAL):
        current = scan(dirs)
        changed = _changes(snapshot, current)
        if changed:
            return changed
        code = child.poll()
        if code is not None and not reported:
            reported = True
            _say(f"the worker exited with code {code}; waiting for a change to restart it")
    return None


def _name(changed: list[str]) -> str:
    first = os.path.relpath(changed[0])
    return first if len(changed) == 1 else f"{first} and {len(changed) - 1} more file(s)"


def _say(message: str) -> None:
    click.echo(f"qtasks --reload: {message}", err=True)
