"""One pub/sub connection per client, shared by every waiter and listener in the process.

Handlers register per channel in a local dispatch table; the connection subscribes to a
channel once, however many local handlers want it, and unsubscribes when the last one leaves.
Replies to SUBSCRIBE and UNSUBSCRIBE come back in the order the commands were sent, so each
command gets its own future and ``subscribe`` returns only after *its* SUBSCRIBE took effect:
a message published after that is never missed.

When the connection drops, the reader reconnects with backoff and subscribes again to every
channel; handlers are then called with ``None``, meaning "messages may have been missed while
disconnected, look again" (a waiting storage re-reads its record).

On a Redis Cluster plain (unsharded) pub/sub is cluster-wide: every node forwards each
PUBLISH to all the others, so a subscriber may sit on any node. Waiters for results use one
subscriber per node, on the node that owns the record (``RedisConnection.subscriber_for``),
where the message is published; a subscriber whose node stops answering moves to another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qtasks_redis._connection import CLIENT_ERRORS

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

    from qtasks_redis._connection import RedisConnection

__all__ = ["Handler", "Subscriber"]

logger = logging.getLogger("qtasks.redis")

#: Called with each message's bytes, or ``None`` after a reconnect.
Handler = Callable[[bytes | None], None]


class _Channel:
    __slots__ = ("confirmed", "gap", "handlers")

    def __init__(self) -> None:
        self.handlers: list[Handler] = []
        self.confirmed = asyncio.Event()
        self.gap = False  # subscribed before an outage: tell the handlers once back


class Subscriber:
    """The shared subscriber connection of one ``RedisConnection``."""

    def __init__(self, connection: RedisConnection, prefer: str | None = None) -> None:
        self._owner = connection
        self._prefer = prefer  # on a cluster: the node to connect to while it answers
        self._channels: dict[bytes, _Channel] = {}
        self._replies: deque[tuple[bytes, _Channel | None]] = deque()
        self._conn: AbstractConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()
        self._closed = False

    # -- public ------------------------------------------------------------------------------

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Register ``handler`` and return once Redis delivers ``channel`` to this process.

        Raises a redis-py connection error if the server cannot be reached on first use;
        later outages are bridged by the reader's reconnect loop.
        """
        key = channel.encode()
        entry = self._channels.get(key)
        if entry is None:
            entry = self._channels[key] = _Channel()
            entry.handlers.append(handler)
            if self._reader is None:
                async with self._start_lock:  # two first subscribers open one connection
                    if not self._reading():
                        try:
                            await self._connect()  # subscribes to every wanted channel
                        except BaseException:
                            self._channels.pop(key, None)
                            raise
                        self._reader = asyncio.ensure_future(self._read_loop())
                    elif not entry.confirmed.is_set():
                        await self._send(b"SUBSCRIBE", key, entry)
            else:
                await self._send(b"SUBSCRIBE", key, entry)
        else:
            entry.handlers.append(handler)
        await entry.confirmed.wait()

    def unsubscribe(self, channel: str, handler: Handler) -> None:
        """Drop ``handler``; the last handler of a channel unsubscribes (without waiting)."""
        key = channel.encode()
        entry = self._channels.get(key)
        if entry is None:
            return
        with contextlib.suppress(ValueError):
            entry.handlers.remove(handler)
        if entry.handlers:
            return
        del self._channels[key]
        if self._conn is not None and not self._closed:
            task = asyncio.ensure_future(self._send(b"UNSUBSCRIBE", key, None))
            task.add_done_callback(_swallow)

    def _reading(self) -> bool:
        return self._reader is not None

    async def close(self) -> None:
        """Stop the reader and close the connection."""
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        await self._drop_connection()

    # -- internals ---------------------------------------------------------------------------

    async def _connect(self) -> None:
        """Open a fresh connection and subscribe to every channel wanted now."""
        conn = await self._owner.open_dedicated(self._prefer)
        self._replies.clear()
        self._conn = conn
        for key, entry in list(self._channels.items()):
            await self._send(b"SUBSCRIBE", key, entry)

    async def _send(self, command: bytes, key: bytes, entry: _Channel | None) -> None:
        async with self._write_lock:
            conn = self._conn
            if conn is None:
                return  # the reconnect subscribes to whatever is wanted by then
            self._replies.append((command, entry))
            try:
                await conn.send_command(command, key, check_health=False)
            except CLIENT_ERRORS as exc:
                logger.debug("sending %s failed; the reader reconnects: %r", command, exc)

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._replies.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.disconnect()

    async def _read_loop(self) -> None:
        failures = 0
        while not self._closed:
            try:
                if self._conn is None:
                    await self._connect()
                    if failures:
                        self._owner.ok()
                    failures = 0
                assert self._conn is not None
                reply = await self._conn.read_response(timeout=None, push_request=True)
            except asyncio.CancelledError:
                raise
            except CLIENT_ERRORS as exc:
                failures += 1
                self._owner.lost(exc)
                for entry in self._channels.values():
                    if entry.confirmed.is_set():
                        entry.confirmed.clear()
                        entry.gap = True
                await self._drop_connection()
                delay = min(5.0, 0.05 * 2 ** min(failures, 10)) * (0.5 + random.random() / 2)
                await asyncio.sleep(delay)
                continue
            self._dispatch(reply)

    def _dispatch(self, reply: Any) -> None:
        if not isinstance(reply, list) or len(reply) < 3:
            return
        kind = reply[0]
        if kind == b"message":
            entry = self._channels.get(reply[1])
            if entry is not None:
                for handler in list(entry.handlers):
                    _call(handler, reply[2])
        elif kind in (b"subscribe", b"unsubscribe") and self._replies:
            _, confirmed = self._replies.popleft()
            if confirmed is not None:
                confirmed.confirmed.set()
                if confirmed.gap:
                    confirmed.gap = False
                    for handler in list(confirmed.handlers):
                        _call(handler, None)


def _call(handler: Handler, data: bytes | None) -> None:
    try:
        handler(data)
    except Exception:
        logger.exception("a pub/sub handler failed")


def _swallow(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()
