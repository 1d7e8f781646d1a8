"""The bench Redis: a private ``redis-server`` on a free loopback port, started for the run.

Being private is what makes FLUSHDB between systems safe and keeps the shared server on
6379 untouched. ``--redis-url`` points the run at a server you dedicate to it instead (it
will be flushed between systems, so never give it a shared one).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from qtasks.discovery import redact_url

if TYPE_CHECKING:
    import redis

__all__ = ["RedisServer", "add_arguments", "open_server"]

LOOPBACK = "127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--redis-url`` and ``--redis-server``."""
    group = parser.add_argument_group("redis")
    group.add_argument(
        "--redis-url",
        help="use this Redis database instead of a private redis-server; it is FLUSHed "
        "between systems, so it must be dedicated to the benchmark",
    )
    group.add_argument(
        "--redis-server",
        default=shutil.which("redis-server"),
        help="the redis-server binary to start privately (default: from PATH)",
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """The Redis one run uses: ``url`` for the systems, ``reset`` between them."""

    kind = "redis"

    def __init__(self, url: str, private: bool) -> None:
        import redis

        self.url = url
        self.private = private
        self.client: redis.Redis = redis.Redis.from_url(url)

    def reset(self) -> None:
        """FLUSHDB: the previous system's queues, results and counters go."""
        self.client.flushdb()

    def describe(self) -> dict[str, Any]:
        """Server version and whether the run started it."""
        info = self.client.info("server")
        return {
            "url": redact_url(self.url),
            "private": self.private,
            "version": info.get("redis_version"),
        }


def _wait_ready(url: str, timeout: float) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.2)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
    finally:
        client.close()


@contextmanager
def open_server(options: argparse.Namespace) -> Iterator[RedisServer]:
    """The Redis for this run: ``--redis-url`` as given, else a private redis-server."""
    if options.redis_url:
        import redis

        try:
            _wait_ready(options.redis_url, timeout=2)
        except redis.RedisError as exc:
            raise SystemExit(f"--redis-url {redact_url(options.redis_url)}: {exc}") from None
        server = RedisServer(options.redis_url, private=False)
        try:
            yield server
        finally:
            server.client.close()
        return
    binary = options.redis_server
    if not binary:
        raise SystemExit(
            "redis-server is not installed: install it (apt-get install redis-server) or "
            "pass --redis-url with a Redis database dedicated to the benchmark"
        )
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="qtasks-bench-redis-")
    command = [binary, "--bind", LOOPBACK, "--port", str(port), "--save", ""]
    command += ["--appendonly", "no", "--dir", workdir, "--protected-mode", "yes"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://{LOOPBACK}:{port}/0"
    try:
        _wait_ready(url, timeout=10)
        server = RedisServer(url, private=True)
        try:
            yield server
        finally:
            server.client.close()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
