"""The bodies of the three bench tasks, shared by every Redis-backed system's worker.

Each library wraps these in its own task decorator. Sync bodies use one redis-py client per
process (a forked child makes its own); async bodies one ``redis.asyncio`` client per event
loop. Either way every task costs exactly one Redis command beyond the library's own work.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._base import Environment, TaskName

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["ASYNC_BODIES", "SYNC_BODIES", "anap", "anoop", "aprobe", "nap", "noop", "probe"]

_sync: tuple[int, redis.Redis] | None = None
_async: tuple[asyncio.AbstractEventLoop, redis.asyncio.Redis] | None = None


def _client() -> redis.Redis:
    global _sync
    pid = os.getpid()
    if _sync is None or _sync[0] != pid:
        import redis

        _sync = (pid, redis.Redis.from_url(Environment.current().url("redis")))
    return _sync[1]


def _aclient() -> redis.asyncio.Redis:
    global _async
    loop = asyncio.get_running_loop()
    if _async is None or _async[0] is not loop:
        import redis.asyncio

        _async = (loop, redis.asyncio.Redis.from_url(Environment.current().url("redis")))
    return _async[1]


def noop(key: str) -> None:
    """INCR ``key``."""
    _client().incr(key)


def probe(key: str, token: str) -> None:
    """RPUSH ``token`` onto ``key``."""
    _client().rpush(key, token)


def nap(key: str, seconds: float) -> None:
    """Sleep (blocking this thread), then INCR ``key``."""
    time.sleep(seconds)
    _client().incr(key)


async def anoop(key: str) -> None:
    """INCR ``key``."""
    await _aclient().incr(key)


async def aprobe(key: str, token: str) -> None:
    """RPUSH ``token`` onto ``key``."""
    await _aclient().rpush(key, token)


async def anap(key: str, seconds: float) -> None:
    """Sleep (yielding the event loop), then INCR ``key``."""
    await asyncio.sleep(seconds)
    await _aclient().incr(key)


#: The bodies by task name, for the libraries whose workers run plain functions.
SYNC_BODIES: dict[TaskName, Callable[..., Any]] = {"noop": noop, "probe": probe, "nap": nap}
#: The bodies by task name, for the libraries whose workers run coroutines.
ASYNC_BODIES: dict[TaskName, Callable[..., Any]] = {"noop": anoop, "probe": aprobe, "nap": anap}
