"""The bench Redis: a private ``redis-server`` on a free loopback port, started for the run.

Being private is what makes FLUSHDB between systems safe and keeps the shared server on
6379 untouched. ``--redis-url`` points the run at a server you dedicate to it instead (it
will be flushed between systems, so never give it a shared one).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

from qtasks.discovery import redact_url
from qtasks.testing import servers as testing

if TYPE_CHECKING:
    import redis

__all__ = ["RedisServer", "add_arguments", "open_server"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--redis-url``."""
    group = parser.add_argument_group("redis")
    group.add_argument(
        "--redis-url",
        help="use this Redis database instead of a private redis-server; it is FLUSHed "
        "between systems, so it must be dedicated to the benchmark",
    )


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


def _start_private(stack: ExitStack) -> str:
    """Start a private redis-server (core's test harness does it) that ``stack`` removes."""
    try:
        process = testing.RedisServer()
    except FileNotFoundError:
        raise SystemExit(
            "redis-server is not installed: install it (apt-get install redis-server) or "
            "pass --redis-url with a Redis database dedicated to the benchmark"
        ) from None
    stack.callback(process.close)
    process.start()
    return process.url


@contextmanager
def open_server(options: argparse.Namespace) -> Iterator[RedisServer]:
    """The Redis for this run: ``--redis-url`` as given, else a private redis-server."""
    import redis

    with ExitStack() as stack:
        url = options.redis_url or _start_private(stack)
        server = RedisServer(url, private=not options.redis_url)
        stack.callback(server.client.close)
        try:
            server.client.ping()
        except redis.RedisError as exc:
            raise SystemExit(f"--redis-url {redact_url(url)}: {exc}") from None
        yield server
