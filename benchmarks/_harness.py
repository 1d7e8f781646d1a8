"""The four workloads, run against one system through ``System`` and nothing else.

Order, for every system (each step starts from what the previous one left):

1. W1: enqueue ``tasks`` no-op tasks one call at a time (no worker running); they stay queued.
2. W2: start one worker and time it draining them: from launch to the last completion (drain),
   from the first completion to the last (steady), and launch to first completion (start-up).
   A system still draining after ``drain_budget`` seconds is measured on what it finished
   (the row says how many); its queue is then purged and its worker restarted.
3. W3: with that worker warm and idle, sequential round trips: enqueue then wait through the
   library's result API (native), then enqueue a probe task and BLPOP what it pushes (blpop),
   each for ``roundtrips`` rounds or ``roundtrip_budget`` seconds, whichever comes first.
4. Stop the worker. W4: queue ``sleep_tasks`` tasks that sleep ``sleep_seconds``, start a
   worker, time the first completion to the last (within ``drain_budget`` as for W2).
5. Stop the worker. W1 bulk, where the library has a bulk API: the same ``tasks`` no-op tasks
   in chunks of ``bulk_chunk``. The driver clears the server after the system is done.

Completions are observed by polling a counter every ``poll_interval`` seconds, the same way
for every system. A worker that exits, or makes no progress for ``stall_timeout`` seconds,
fails the phase with its log attached instead of hanging the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from .systems import System

__all__ = ["QUICK", "PhaseError", "Sizes", "percentile", "run_system"]

KEY_W2 = "bench:w2:done"
KEY_W3 = "bench:w3:done"
KEY_PROBE = "bench:w3:probe"
KEY_W4 = "bench:w4:done"
KEY_BULK = "bench:bulk:done"


@dataclass(frozen=True)
class Sizes:
    """How much work each workload does, and the harness's own timings."""

    tasks: int = 10_000
    roundtrips: int = 200
    warmup: int = 5
    roundtrip_budget: float = 20.0
    drain_budget: float = 60.0
    sleep_tasks: int = 2_000
    sleep_seconds: float = 0.01
    bulk_chunk: int = 1_000
    poll_interval: float = 0.005
    result_timeout: float = 10.0
    stall_timeout: float = 60.0

    def as_dict(self) -> dict[str, Any]:
        """For the JSON."""
        return asdict(self)


#: ``--quick``: a smoke run that exercises every phase in seconds per system.
QUICK = Sizes(
    tasks=1_000,
    roundtrips=50,
    warmup=3,
    roundtrip_budget=10.0,
    drain_budget=30.0,
    sleep_tasks=200,
)


class PhaseError(Exception):
    """A workload could not finish; the message says why (worker log included)."""


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linearly interpolated."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@dataclass(frozen=True)
class _Drained:
    started: float
    first: float
    first_count: int
    last: float
    count: int

    def rates(self) -> dict[str, Any]:
        """Drain rate from launch, steady rate from the first completion, start-up time."""
        spread = self.last - self.first
        return {
            "done": self.count,
            "seconds": self.last - self.started,
            "drain_per_s": self.count / (self.last - self.started),
            "steady_per_s": (self.count - self.first_count) / spread if spread > 0 else None,
            "startup_s": self.first - self.started,
        }


async def _watch(system: System, key: str, target: int, sizes: Sizes, started: float) -> _Drained:
    """Poll ``key`` until it reaches ``target`` or ``drain_budget`` runs out."""
    first: float | None = None
    first_count = 0
    seen, changed = 0, time.perf_counter()
    while True:
        count = await system.completions(key)
        now = time.perf_counter()
        if count and first is None:
            first, first_count = now, count
        if count >= target or (first is not None and now - started > sizes.drain_budget):
            assert first is not None
            # More INCRs than tasks would be duplicate executions: counted apart, not as speed.
            return _Drained(started, first, first_count, now, min(count, target))
        if count != seen:
            seen, changed = count, now
        elif now - changed > sizes.stall_timeout:
            raise PhaseError(
                f"no task finished for {sizes.stall_timeout:.0f} s ({count} of {target} done)"
            )
        problem = system.worker_problem()
        if problem:
            raise PhaseError(f"{problem} ({count} of {target} done)")
        await asyncio.sleep(sizes.poll_interval)


async def _enqueue_many(system: System, task: Any, args: tuple[Any, ...], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await system.enqueue(task, args)
    return time.perf_counter() - started


async def w1_enqueue(system: System, sizes: Sizes) -> dict[str, Any]:
    """W1: ``tasks`` single enqueues, timed."""
    seconds = await _enqueue_many(system, "noop", (KEY_W2,), sizes.tasks)
    return {"tasks": sizes.tasks, "seconds": seconds, "per_s": sizes.tasks / seconds}


async def w2_drain(system: System, sizes: Sizes) -> dict[str, Any]:
    """W2: one worker drains the W1 tasks; the worker keeps running for W3."""
    started = time.perf_counter()
    await system.start_worker()
    drained = await _watch(system, KEY_W2, sizes.tasks, sizes, started)
    if drained.count < sizes.tasks:
        # Out of budget: W3 needs an idle worker and an empty queue.
        await system.stop_worker()
        await system.purge()
        await system.start_worker()
    return {"tasks": sizes.tasks, **drained.rates()}


async def _roundtrips(
    sizes: Sizes, one: Callable[[int], Awaitable[None]], system: System
) -> dict[str, Any]:
    """Warm up, then time sequential round trips until the count or the time budget is reached."""
    for i in range(sizes.warmup):
        await one(-1 - i)
    latencies: list[float] = []
    errors: list[str] = []
    consecutive = 0
    deadline = time.perf_counter() + sizes.roundtrip_budget
    for i in range(sizes.roundtrips):
        if time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        try:
            await one(i)
        except Exception as exc:
            consecutive += 1
            errors.append(f"{type(exc).__name__}: {exc}")
            if consecutive >= 3:
                problem = system.worker_problem()
                raise PhaseError(
                    f"3 round trips in a row failed: {errors[-1]}"
                    + (f"; {problem}" if problem else "")
                ) from exc
            continue
        consecutive = 0
        latencies.append(time.perf_counter() - started)
    if not latencies:
        raise PhaseError(f"no round trip succeeded: {errors[-1] if errors else 'none ran'}")
    ms = [x * 1000 for x in latencies]
    return {
        "requested": sizes.roundtrips,
        "count": len(ms),
        "errors": len(errors),
        "error_samples": errors[:3],
        "budget_hit": len(ms) + len(errors) < sizes.roundtrips,
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "mean_ms": statistics.fmean(ms),
        "max_ms": max(ms),
    }


async def w3_native(system: System, sizes: Sizes) -> dict[str, Any]:
    """W3 native: enqueue and wait with the library's result API."""

    async def one(_: int) -> None:
        await system.call("noop", (KEY_W3,), sizes.result_timeout)

    return await _roundtrips(sizes, one, system)


async def w3_blpop(system: System, sizes: Sizes) -> dict[str, Any]:
    """W3 blpop: the task RPUSHes a token, the harness BLPOPs it."""

    async def one(i: int) -> None:
        token = f"t{i}"
        await system.enqueue("probe", (KEY_PROBE, token))
        while True:
            got = await system.wait_probe(KEY_PROBE, sizes.result_timeout)
            if got is None:
                raise TimeoutError(f"no probe token within {sizes.result_timeout} s")
            if got == token:
                return
            # A token from an earlier round that timed out: skip it.

    return await _roundtrips(sizes, one, system)


async def w4_sleep(system: System, sizes: Sizes) -> dict[str, Any]:
    """W4: ``sleep_tasks`` queued sleeping tasks drained by a fresh worker."""
    await _enqueue_many(system, "nap", (KEY_W4, sizes.sleep_seconds), sizes.sleep_tasks)
    started = time.perf_counter()
    await system.start_worker()
    try:
        drained = await _watch(system, KEY_W4, sizes.sleep_tasks, sizes, started)
    finally:
        await system.stop_worker()
    rates = drained.rates()
    return {
        "tasks": sizes.sleep_tasks,
        "sleep_s": sizes.sleep_seconds,
        "per_s": rates["steady_per_s"],
        "ceiling_per_s": system.concurrency / sizes.sleep_seconds,
        "done": drained.count,
        "startup_s": rates["startup_s"],
        "seconds": rates["seconds"],
    }


async def w1_bulk(system: System, sizes: Sizes) -> dict[str, Any]:
    """W1 bulk: the same no-op tasks through the bulk API, in chunks of ``bulk_chunk``."""
    before = await system.queued()
    chunk = [(KEY_BULK,)] * sizes.bulk_chunk
    started = time.perf_counter()
    left = sizes.tasks
    while left > 0:
        size = min(left, sizes.bulk_chunk)
        await system.enqueue_bulk("noop", chunk[:size])
        left -= size
    seconds = time.perf_counter() - started
    after = await system.queued()
    if before is not None and after is not None and after - before != sizes.tasks:
        raise PhaseError(f"bulk enqueue of {sizes.tasks} left {after - before} queued")
    return {
        "tasks": sizes.tasks,
        "chunk": sizes.bulk_chunk,
        "seconds": seconds,
        "per_s": sizes.tasks / seconds,
        "verified": after is not None,
    }


def _say(system: System, message: str) -> None:
    print(f"  {system.name}: {message}", flush=True)


async def run_system(system: System, sizes: Sizes) -> dict[str, Any]:
    """Every workload against ``system``; failures are recorded per phase, never raised."""
    result: dict[str, Any] = {"load_before": _load(), "phases": {}, "errors": {}}
    phases: dict[str, Any] = result["phases"]
    errors: dict[str, str] = result["errors"]

    async def phase(name: str, run: Callable[[], Awaitable[dict[str, Any]]]) -> bool:
        try:
            phases[name] = await run()
        except Exception as exc:
            detail = str(exc) if isinstance(exc, PhaseError) else traceback.format_exc()
            errors[name] = detail
            _say(system, f"{name} FAILED: {detail.splitlines()[0] if detail else exc!r}")
            return False
        _say(system, f"{name} {_brief(phases[name])}")
        return True

    try:
        await system.open()
    except Exception:
        errors["open"] = traceback.format_exc()
        _say(system, f"could not connect: {errors['open'].splitlines()[-1]}")
        with contextlib.suppress(Exception):
            await system.close()
        return result
    try:
        ok = await phase("w1", lambda: w1_enqueue(system, sizes))
        ok = ok and await phase("w2", lambda: w2_drain(system, sizes))
        if ok:
            await phase("w3_native", lambda: w3_native(system, sizes))
            if system.probe:
                await phase("w3_blpop", lambda: w3_blpop(system, sizes))
            await system.stop_worker()
            await _count_duplicates(system, phases.get("w2"), KEY_W2)
            await phase("w4", lambda: w4_sleep(system, sizes))
            await _count_duplicates(system, phases.get("w4"), KEY_W4)
            if system.bulk:
                await phase("w1_bulk", lambda: w1_bulk(system, sizes))
    finally:
        await system.close()
    result["counters"] = dict(system.counters)
    result["load_after"] = _load()
    return result


async def _count_duplicates(system: System, data: dict[str, Any] | None, key: str) -> None:
    """With the worker stopped, compare executions with tasks: extra runs are duplicates."""
    if data is None or data["done"] < data["tasks"]:
        return  # cut short by the budget (and maybe purged): nothing to compare
    executions = await system.completions(key)
    data["executions"] = executions
    if executions > data["tasks"]:
        system.counters[f"{key} duplicate executions"] = executions - data["tasks"]


def _brief(data: dict[str, Any]) -> str:
    keys = ("per_s", "drain_per_s", "steady_per_s", "startup_s", "p50_ms", "p99_ms", "count")
    parts = []
    for key in keys:
        value = data.get(key)
        if isinstance(value, (int, float)):
            parts.append(f"{key}={value:,.2f}" if isinstance(value, float) else f"{key}={value}")
    return " ".join(parts)
