"""Drain N no-op async tasks from the in-memory broker with one worker; print tasks/s.

Measures the runtime's own per-task cost (fetch, dispatch, execute, settle) with nothing else
in the way, so a change to the hot path shows up here first. Tasks per CPU second is the
steadier figure on a shared machine, where wall-clock rates swing with other load. Usage:
``python benchmarks/drain_noop.py [N] [REPEATS] [--plugin]``; ``--plugin`` installs one plugin
that overrides every task hook, to show what hooks cost when they are used.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import anyio

from qtasks.asyncio import QueueTasks


def _make_app(with_plugin: bool) -> QueueTasks:
    app = QueueTasks("bench")

    @app.task
    async def noop() -> None:
        return None

    if with_plugin:
        from qtasks.plugins import Plugin

        class Everything(Plugin):
            async def before_execute(self, call: Any) -> None:
                return None

            async def after_execute(self, call: Any, result: Any) -> None:
                return None

            async def on_success(self, call: Any, result: Any) -> None:
                return None

        app.add_plugin(Everything())
    return app


async def _once(n: int, with_plugin: bool) -> tuple[float, float]:
    app = _make_app(with_plugin)
    await app.add_tasks("noop", [() for _ in range(n)])
    started = time.perf_counter()
    cpu_started = time.process_time()
    async with app.running(concurrency=10) as worker:
        with anyio.fail_after(120):
            # Polling a counter, so that nothing is added to the path being measured.
            while worker.processed < n:  # type: ignore[attr-defined]  # noqa: ASYNC110
                await anyio.sleep(0.001)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    await app.stop()
    return n / elapsed, n / cpu


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    with_plugin = "--plugin" in sys.argv
    n = int(args[0]) if args else 10_000
    repeats = int(args[1]) if len(args) > 1 else 5
    runs = [anyio.run(_once, n, with_plugin) for _ in range(repeats)]
    wall = [w for w, _ in runs]
    cpu = [c for _, c in runs]
    print(
        f"drain {n} no-op async tasks{' (one plugin, every task hook)' if with_plugin else ''}: "
        f"median {statistics.median(wall):,.0f}/s wall, {statistics.median(cpu):,.0f}/s per "
        f"CPU second; wall runs {', '.join(f'{r:,.0f}' for r in wall)}"
    )


if __name__ == "__main__":
    main()
