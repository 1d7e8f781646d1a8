"""``floor@redis``: not a task queue, but the least any Redis task queue has to do for this work.

A row to read the others against. The producer RPUSHes ``[task, args, reply key]`` as JSON
onto one list; one worker process (asyncio, redis-py with hiredis, like the asyncio peers)
LPOPs up to its free slots in one command, BLPOPs when the list is empty, and runs the same
task bodies as every other row, 10 at once. A call waits with BLPOP on its own reply list.

Everything a task queue is for is left out: no acknowledgement (a killed worker loses what
it held), no stored result or status, no retries, priorities, delays, cancellation, events or
plugins. So its W2 is roughly the ceiling for one Python process running these bodies with
concurrency 10: the task body's own INCR and the interpreter's start-up are most of it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from . import _tasks
from ._base import Environment, TaskName
from ._redis import RedisSystem

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["SYSTEMS", "FloorRedis"]

QUEUE = "floor:queue"


def _message(task: TaskName, args: Sequence[Any], reply: str | None = None) -> str:
    return json.dumps([task, list(args), reply])


async def _serve(url: str, concurrency: int) -> None:
    """Fetch up to the free slots, run the bodies, push a reply when one is asked for."""
    import redis.asyncio

    client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(url)
    ready: asyncio.Queue[Any] = asyncio.Queue()
    space = asyncio.Event()
    held = 0

    async def runner() -> None:
        nonlocal held
        while True:
            task, args, reply = json.loads(await ready.get())
            await _tasks.ASYNC_BODIES[task](*args)
            if reply is not None:
                await client.rpush(reply, b"done")
            held -= 1
            space.set()

    async def fetcher() -> None:
        nonlocal held
        while True:
            free = concurrency - held
            if free <= 0:
                space.clear()
                await space.wait()
                continue
            taken = await client.lpop(QUEUE, free)
            got: list[Any] = taken if isinstance(taken, list) else []
            if not got:
                popped = await client.blpop([QUEUE], timeout=1)
                if popped is None:
                    continue
                got = [popped[1]]
            held += len(got)
            for raw in got:
                ready.put_nowait(raw)

    runners = [asyncio.ensure_future(runner()) for _ in range(concurrency)]
    try:
        await fetcher()
    finally:
        for task in runners:
            task.cancel()
        await client.aclose()


class FloorRedis(RedisSystem):
    name = "floor@redis"
    summary = (
        "NOT a task queue, a reference floor: RPUSH JSON / LPOP up to the free slots, the same "
        "bodies, 10 at once, 1 process; no acks, results, retries or priorities; calls wait "
        "on a reply list with BLPOP"
    )
    requires: ClassVar[tuple[str, ...]] = ("redis",)
    distributions: ClassVar[tuple[str, ...]] = ("redis",)
    concurrency = 10
    bulk = True
    #: Last row: it is a yardstick, not a contender.
    rank = 100

    async def connect(self) -> None:
        import redis.asyncio

        self.client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(self.url)

    async def disconnect(self) -> None:
        await self.client.aclose()

    async def enqueue(self, task: TaskName, args: tuple[Any, ...]) -> None:
        await self.client.rpush(QUEUE, _message(task, args))

    async def enqueue_bulk(self, task: TaskName, calls: Sequence[tuple[Any, ...]]) -> None:
        await self.client.rpush(QUEUE, *(_message(task, args) for args in calls))

    async def call(self, task: TaskName, args: tuple[Any, ...], timeout: float) -> None:
        reply = f"floor:reply:{uuid.uuid4().hex}"
        await self.client.rpush(QUEUE, _message(task, args, reply))
        if await self.client.blpop([reply], timeout=timeout) is None:
            raise TimeoutError(f"{task} did not finish within {timeout} s")

    async def queued(self) -> int | None:
        return int(await self.client.llen(QUEUE))

    def serve(self) -> None:
        asyncio.run(_serve(Environment.current().url("redis"), self.concurrency))


SYSTEMS = (FloorRedis,)
