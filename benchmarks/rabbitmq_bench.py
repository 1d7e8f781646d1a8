"""RabbitMQ broker benchmark: enqueue rate, drain throughput, round-trip latency.

Needs RabbitMQ (``QTASKS_AMQP_URL`` or amqp://guest:guest@127.0.0.1:5672/). Results travel
back by direct reply-to (no storage), so every completion is also a message to the producer.

* W1: ``add_task`` one at a time (each waits for RabbitMQ's confirm), then ``add_tasks``
  in chunks of 1,000.
* W2: 10,000 no-op tasks queued, then one worker process (concurrency 10) started; drain/s
  counts from starting the worker to the last result back, steady/s from the first result.
* W3: sequential round trips ``add_task(..., timeout=)`` against a running worker process.

Usage: python benchmarks/rabbitmq_bench.py [--tasks 10000] [--round-trips 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from qtasks.asyncio import QueueTasks
from qtasks.serializers.json import JsonSerializer
from qtasks_rabbitmq import RabbitMQBroker

URL = os.environ.get("QTASKS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
WORKER = Path(__file__).with_name("_rabbitmq_worker.py")


def start_worker(name: str, concurrency: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), name, URL, str(concurrency)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


async def cleanup(name: str) -> None:
    broker = RabbitMQBroker(URL)
    broker.bind(name, JsonSerializer())
    await broker.start()
    await broker.delete(["default"])
    await broker.stop()


async def enqueue(name: str, count: int) -> dict[str, float]:
    app = QueueTasks(name, broker=URL)
    await app.start()
    start = time.perf_counter()
    for _ in range(count):
        await app.add_task("noop")
    single = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(count // 1000):
        await app.add_tasks("noop", [() for _ in range(1000)])
    bulk = (count // 1000) * 1000 / (time.perf_counter() - start)
    await app.stop()
    await cleanup(name)
    return {"W1 enq/s": single, "W1 bulk enq/s": bulk}


async def drain(name: str, count: int) -> dict[str, float]:
    app = QueueTasks(name, broker=URL)
    queued = []
    for _ in range(count // 1000):
        queued += await app.add_tasks("noop", [() for _ in range(1000)])
    started = time.perf_counter()
    worker = start_worker(name, 10)
    try:
        first = None
        for index, task in enumerate(queued):
            await app.wait_result(task.uuid, timeout=300)
            if index == 0:
                first = time.perf_counter()
        done = time.perf_counter()
    finally:
        stop_worker(worker)
        await app.stop()
        await cleanup(name)
    assert first is not None
    return {
        "W2 drain/s": count / (done - started),
        "W2 steady/s": (count - 1) / (done - first),
        "W2 startup s": first - started,
    }


async def round_trips(name: str, count: int) -> dict[str, float]:
    app = QueueTasks(name, broker=URL)
    worker = start_worker(name, 10)
    try:
        await app.add_task("noop", timeout=60)  # the worker is up
        took = []
        for _ in range(count):
            start = time.perf_counter()
            await app.add_task("noop", timeout=10)
            took.append((time.perf_counter() - start) * 1000)
    finally:
        stop_worker(worker)
        await app.stop()
        await cleanup(name)
    took.sort()
    return {
        "W3 p50 ms": statistics.median(took),
        "W3 p99 ms": took[min(len(took) - 1, int(len(took) * 0.99))],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--round-trips", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    results: dict[str, float] = {}
    results |= await enqueue(name, min(args.tasks, 5_000))
    results |= await drain(name, args.tasks)
    results |= await round_trips(name, args.round_trips)
    for key, value in results.items():
        print(f"{key:16} {value:,.2f}")
    print(json.dumps({"system": "qtasks-rabbitmq", **results}))


if __name__ == "__main__":
    asyncio.run(main())
