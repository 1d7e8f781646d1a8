"""The app the Redis integration tests run in worker subprocesses.

``python worker_app.py URL NAME [--concurrency N] [--visibility-timeout S] ...`` serves until
SIGINT/SIGTERM (or until it is SIGKILLed, which is the point of some tests).
"""

from __future__ import annotations

import argparse
import logging

import anyio
import redis.asyncio as redis_asyncio

from qtasks.asyncio import QueueTasks
from qtasks.bound import AsyncTask


def build(url: str, name: str, visibility_timeout: float = 30.0) -> QueueTasks:
    app = QueueTasks(name, broker=f"{url}?visibility_timeout={visibility_timeout}")
    side = redis_asyncio.Redis.from_url(url)

    @app.task(name="record", echo=True)
    async def record(self: AsyncTask[[], None]) -> None:
        """Note that this uuid ran (a list keeps duplicates, so they can be counted)."""
        await side.rpush(f"{name}:ran", self.ctx.task_uuid)

    @app.task(name="crashy", echo=True)
    async def crashy(self: AsyncTask[[], int]) -> int:
        """Hang on the first run (the test kills that worker); finish on the next."""
        runs = int(await side.incr(f"{name}:runs"))
        if runs == 1:
            await anyio.sleep(120)
        return runs

    @app.task(name="pause")
    async def pause(seconds: float) -> float:
        await anyio.sleep(seconds)
        return seconds

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("name")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--visibility-timeout", type=float, default=30.0)
    parser.add_argument("--heartbeat-interval", type=float, default=5.0)
    parser.add_argument("--max-deliveries", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    app = build(args.url, args.name, args.visibility_timeout)
    anyio.run(
        lambda: app.run_forever(
            concurrency=args.concurrency,
            heartbeat_interval=args.heartbeat_interval,
            max_deliveries=args.max_deliveries,
        )
    )


if __name__ == "__main__":
    main()
