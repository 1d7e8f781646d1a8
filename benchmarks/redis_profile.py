"""How fast QTasks runs on Redis: drain, round trip and bulk enqueue, for profiling.

Needs a Redis server (``--url``, default redis://127.0.0.1:6379/0); uses a fresh app name per
run and deletes its keys afterwards. Run one scenario at a time to profile it, e.g.::

    py-spy record -o drain.svg -- python benchmarks/redis_profile.py drain
    python benchmarks/redis_profile.py all --json out.json

Scenarios: ``drain`` (N queued no-op async tasks, one worker in a subprocess, tasks/s from
the worker's start to the last result), ``roundtrip`` (enqueue then wait, sequentially,
p50/p99 ms, worker in a subprocess), ``bulk`` (``add_tasks`` in batches, tasks/s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

import anyio
import redis

from qtasks.asyncio import QueueTasks
from qtasks_redis import keys


def make_app(name: str, url: str) -> QueueTasks:
    app = QueueTasks(name, broker=url)

    @app.task(name="noop")
    async def noop() -> None:
        return None

    return app


def cleanup(url: str, name: str) -> None:
    client = redis.Redis.from_url(url)
    for pattern in keys.app_key_patterns(name):
        batch = list(client.scan_iter(match=pattern, count=5000))
        for start in range(0, len(batch), 1000):
            client.delete(*batch[start : start + 1000])


def start_worker(
    url: str, name: str, concurrency: int, profile: str | None
) -> subprocess.Popen[bytes]:
    command = [sys.executable, __file__, "worker", "--url", url, "--name", name]
    command += ["--concurrency", str(concurrency)]
    if profile:
        command = [
            "py-spy",
            "record",
            "-o",
            profile,
            "-r",
            "250",
            "--format",
            os.environ.get("PYSPY_FORMAT", "flamegraph"),
            "--",
            *command,
        ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(2)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def serve(url: str, name: str, concurrency: int) -> None:
    app = make_app(name, url)
    await app.run_forever(concurrency=concurrency, prefetch=concurrency)


async def drain(url: str, count: int, concurrency: int, profile: str | None) -> dict[str, float]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    app = make_app(name, url)
    async with app:
        records = []
        for start in range(0, count, 5000):
            records += await app.add_tasks("noop", [() for _ in range(min(5000, count - start))])
        began = time.perf_counter()
        worker = start_worker(url, name, concurrency, profile)
        try:
            last = records[-1]
            # Tasks finish roughly in order; wait for the last, then check every one.
            await app.wait_result(last.uuid, timeout=300)
            first_check = time.perf_counter()
            pending = [r.uuid for r in records]
            while pending:
                got = await app.storage.get_many(pending[:5000])
                done = [r for r in got if r is not None and r.is_finished]
                if len(done) < len(got):
                    await anyio.sleep(0.01)
                    continue
                pending = pending[5000:]
            elapsed = max(first_check, time.perf_counter()) - began
            final = []
            for start in range(0, count, 5000):
                final += await app.storage.get_many([r.uuid for r in records[start : start + 5000]])
        finally:
            stop_worker(worker)
    cleanup(url, name)
    started = min(r.started_at.timestamp() for r in final if r and r.started_at)
    finished = max(r.finished_at.timestamp() for r in final if r and r.finished_at)
    return {
        "drain_tasks_per_s": count / elapsed,
        "drain_steady_tasks_per_s": count / (finished - started),
        "drain_seconds": elapsed,
    }


async def roundtrip(
    url: str, count: int, concurrency: int, profile: str | None
) -> dict[str, float]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    app = make_app(name, url)
    worker = start_worker(url, name, concurrency, profile)
    try:
        async with app:
            await app.add_task("noop", timeout=30)  # the worker is up
            for _ in range(20):  # warm up connections and scripts
                await app.add_task("noop", timeout=10)
            times = []
            for _ in range(count):
                began = time.perf_counter()
                await app.add_task("noop", timeout=10)
                times.append((time.perf_counter() - began) * 1000)
    finally:
        stop_worker(worker)
    cleanup(url, name)
    times.sort()
    return {
        "roundtrip_p50_ms": statistics.median(times),
        "roundtrip_p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
    }


async def bulk(url: str, count: int, batch: int) -> dict[str, float]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    app = make_app(name, url)
    async with app:
        await app.add_tasks("noop", [()])  # connect first
        began = time.perf_counter()
        for start in range(0, count, batch):
            await app.add_tasks("noop", [() for _ in range(min(batch, count - start))])
        elapsed = time.perf_counter() - began
        single_began = time.perf_counter()
        for _ in range(2000):
            await app.add_task("noop")
        single = 2000 / (time.perf_counter() - single_began)
    cleanup(url, name)
    return {"bulk_enqueue_per_s": count / elapsed, "single_enqueue_per_s": single}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["drain", "roundtrip", "bulk", "all", "worker"])
    parser.add_argument(
        "--url", default=os.environ.get("QTASKS_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument("--name", default="")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--profile", default=None, help="py-spy the worker into this SVG")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.scenario == "worker":
        anyio.run(serve, args.url, args.name, args.concurrency)
        return
    results: dict[str, float] = {}
    if args.scenario in ("drain", "all"):
        results |= anyio.run(drain, args.url, args.count, args.concurrency, args.profile)
    if args.scenario in ("roundtrip", "all"):
        results |= anyio.run(roundtrip, args.url, 200, args.concurrency, args.profile)
    if args.scenario in ("bulk", "all"):
        results |= anyio.run(bulk, args.url, args.count, args.batch)
    for key, value in results.items():
        print(f"{key:>24}: {value:,.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
