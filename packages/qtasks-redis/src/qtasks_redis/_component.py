"""The part of the Redis broker, storage and global config that is about their connection.

Each is built from a URL and options, or handed the ``RedisConnection`` of another (that is how
a broker's ``default_storage`` and ``default_global_config`` share its pool); ``start`` joins
that connection and ``stop`` leaves it, and the last component to leave closes it.
"""

from __future__ import annotations

from typing import Any

from qtasks.exceptions import ConfigurationError
from qtasks_redis._connection import RedisConnection
from qtasks_redis._options import parse_settings

__all__ = ["RedisComponent"]


class RedisComponent:
    """Mixed in before the core interface, so its ``start`` and ``stop`` are the ones used."""

    connection: RedisConnection
    _started: bool

    def _use_connection(
        self, url: str | None, connection: RedisConnection | None, options: dict[str, Any]
    ) -> RedisConnection:
        """Take ``connection``, or build one from ``url`` and ``options``; never both."""
        if connection is None:
            connection = RedisConnection(parse_settings(url, **options))
        elif url is not None or options:
            raise ConfigurationError(
                f"give {type(self).__name__} a URL and options, or a connection; not both"
            )
        self.connection = connection
        self._started = False
        return connection

    async def start(self) -> None:
        """Join the shared connection (it connects on the first command)."""
        if not self._started:
            await self.connection.acquire()
            self._started = True

    async def stop(self) -> None:
        """Leave the shared connection; the last component to leave closes it."""
        if self._started:
            self._started = False
            await self.connection.release()
