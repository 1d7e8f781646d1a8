"""RedisGlobalConfig: shared values with TTLs, compare-and-set, and pub/sub channels.

Values live under ``qtasks:{<ns>}:cfg:<key>`` with Redis TTLs; a zset beside them lists the
live keys with their expiry times, so ``items`` never scans the keyspace (which holds every
task record too). compare-and-set compares decoded values, so it is optimistic: read the
value, compare it here, then a script writes only if the stored bytes are still those read
(otherwise read again). Every key here shares the ``{<ns>}`` hash tag, so all of it, the
script included, runs unchanged on a Redis Cluster.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from typing_extensions import Self

from qtasks.interfaces.global_config import GlobalConfig
from qtasks_redis import keys
from qtasks_redis._component import RedisComponent
from qtasks_redis._connection import CLIENT_ERRORS, ErrorKinds, RedisConnection, ScriptCall
from qtasks_redis.exceptions import RedisGlobalConfigConnectionError, RedisGlobalConfigError

__all__ = ["RedisGlobalConfig"]

logger = logging.getLogger("qtasks.redis")

_ERRORS = ErrorKinds(RedisGlobalConfigConnectionError, RedisGlobalConfigError)


class RedisGlobalConfig(RedisComponent, GlobalConfig):
    """Settings, leases and control messages shared by every process of one app."""

    def __init__(
        self,
        url: str | None = None,
        *,
        connection: RedisConnection | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        self._use_connection(url, connection, options)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``redis://...`` (also rediss, unix)."""
        return cls(url, **options)

    def _key(self, key: str) -> str:
        return keys.config_key(self.namespace, key)

    async def _run(self, doing: str, *commands: tuple[Any, ...]) -> list[Any]:
        return await self.connection.pipeline(_ERRORS, doing, list(commands))

    async def get(self, key: str) -> Any | None:
        """The value of ``key``, or ``None``."""
        (data,) = await self._run(f"read config key {key!r}", ("GET", self._key(key)))
        return None if data is None else self.serializer.loads(data)

    async def set(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        """Store ``value`` (expiring after ``ttl`` seconds) and list the key in the index."""
        data = self.serializer.dumps(value)
        index = keys.config_index_key(self.namespace)
        now = time.time()
        if ttl is None:
            write: tuple[Any, ...] = ("SET", self._key(key), data)
            expires = "+inf"
        else:
            write = ("SET", self._key(key), data, "PX", max(1, math.ceil(ttl * 1000)))
            expires = repr(now + ttl)
        await self._run(
            f"write config key {key!r}",
            write,
            ("ZADD", index, expires, key),
            ("ZREMRANGEBYSCORE", index, "-inf", f"({now!r}"),
        )

    async def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it existed."""
        removed, _ = await self._run(
            f"delete config key {key!r}",
            ("DEL", self._key(key)),
            ("ZREM", keys.config_index_key(self.namespace), key),
        )
        return bool(removed)

    async def items(self, prefix: str = "") -> dict[str, Any]:
        """Every live key starting with ``prefix``, read through the index (no SCAN)."""
        index = keys.config_index_key(self.namespace)
        _, names = await self._run(
            "list config keys",
            ("ZREMRANGEBYSCORE", index, "-inf", f"({time.time()!r}"),
            ("ZRANGE", index, 0, -1),
        )
        wanted = [n.decode() for n in names if n.decode().startswith(prefix)]
        if not wanted:
            return {}
        (values,) = await self._run("read config keys", ("MGET", *map(self._key, wanted)))
        return {
            name: self.serializer.loads(data)
            for name, data in zip(wanted, values, strict=True)
            if data is not None
        }

    async def compare_and_set(
        self, key: str, expected: Any | None, value: Any, *, ttl: float | None = None
    ) -> bool:
        """Set ``key`` to ``value`` only while it holds ``expected``; atomic across clients."""
        name = self._key(key)
        index = keys.config_index_key(self.namespace)
        data = b"" if value is None else self.serializer.dumps(value)
        doing = f"compare-and-set config key {key!r}"
        while True:
            (raw,) = await self._run(doing, ("GET", name))
            current = None if raw is None else self.serializer.loads(raw)
            if current != expected:
                return False
            if ttl is None:
                ttl_ms, expires = b"", "+inf"
            else:
                ttl_ms, expires = b"%d" % max(1, math.ceil(ttl * 1000)), repr(time.time() + ttl)
            had = (b"0", b"") if raw is None else (b"1", raw)
            (written,) = await self.connection.pipeline(
                _ERRORS,
                doing,
                [ScriptCall("config_cas", (name, index), (*had, data, ttl_ms, key, expires))],
            )
            if written:
                return True
            # Another client wrote in between: read and compare again.

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Send ``message`` to the current subscribers of ``channel``."""
        await self._run(
            f"publish on channel {channel!r}",
            (
                "PUBLISH",
                keys.pubsub_channel(self.namespace, channel),
                self.serializer.dumps(message),
            ),
        )

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Listen on ``channel``; subscribed (on the shared connection) once entered."""
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
        name = keys.pubsub_channel(self.namespace, channel)
        serializer = self.serializer

        def deliver(data: bytes | None) -> None:
            if data is None:
                return  # messages sent during an outage are lost: fire and forget
            try:
                message = serializer.loads(data)
            except (ValueError, TypeError) as exc:
                logger.warning("dropping an undecodable message on %r: %r", channel, exc)
                return
            if isinstance(message, dict):
                send.send_nowait(message)

        subscriber = self.connection.subscriber
        try:
            await subscriber.subscribe(name, deliver)
        except CLIENT_ERRORS as exc:
            subscriber.unsubscribe(name, deliver)
            raise self.connection.wrap(exc, _ERRORS, f"subscribe to {channel!r}") from exc
        try:
            async with receive:
                yield receive
        finally:
            subscriber.unsubscribe(name, deliver)
            send.close()
