"""SyncTimer over the sync app, and timers run as a starter service beside a worker."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import anyio
import pytest

from qtasks import QueueTasks as SyncQueueTasks
from qtasks.asyncio import QueueTasks
from qtasks.exceptions import ConfigurationError
from qtasks_timer import AsyncTimer, ManualClock, SyncTimer, run_timers, timers_of

from .conftest import START


def test_sync_timer_mirrors_the_async_one() -> None:
    app = SyncQueueTasks(f"sync-{uuid.uuid4().hex[:8]}")
    try:

        @app.task
        def ping(n: int) -> int:
            return n

        clock = ManualClock(START)
        timer = SyncTimer(app, clock=clock, name="sync")
        schedule = timer.add_task("ping", 1, trigger=30)

        @timer.cron("* * * * *", args=(2,))
        @app.task
        def pong(n: int) -> int:
            return n

        assert [s.task_name for s in timer.schedules()] == ["ping", "pong"]
        assert timer.get(schedule.id) is schedule
        assert timers_of(app) == [timer.aio]
        assert timer.run_pending() == []
        clock.advance(30)
        fired = timer.run_pending()
        assert sorted(t.task_name for t in fired) == ["ping", "pong"]
        assert timer.is_leader and timer.lease_holder() == timer.owner
        assert {s.schedule.id: s.last_uuid for s in timer.status()}[schedule.id] in {
            t.uuid for t in fired
        }
        with app.running():
            assert {t.wait_result(timeout=5).returning for t in fired} == {1, 2}
        assert timer.remove(schedule.id) and not timer.remove(schedule.id)
        assert "sync" in repr(timer)
        with pytest.raises(TypeError, match="sync QueueTasks"):
            SyncTimer(QueueTasks("async"))  # type: ignore[arg-type]
    finally:
        app.close()


def test_sync_timer_running_in_the_background_with_real_time() -> None:
    app = SyncQueueTasks(f"sync-bg-{uuid.uuid4().hex[:8]}")
    done: list[int] = []
    try:

        @app.task
        def tick() -> None:
            done.append(1)

        timer = SyncTimer(app, lease_ttl=2)
        timer.add_task("tick", trigger=0.1)
        with app.running(), timer.running():
            deadline = time.monotonic() + 10
            while len(done) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
        assert len(done) >= 3
        assert not timer.aio.running
        timer.stop()  # stopping a stopped timer is harmless
    finally:
        app.close()


def test_sync_run_forever_blocks_until_a_signal(tmp_path: Path) -> None:
    script = tmp_path / "sync_timer_app.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from qtasks import QueueTasks
            from qtasks_timer import SyncTimer

            app = QueueTasks("sync-forever")

            @app.task
            def tick() -> None: ...

            timer = SyncTimer(app)
            timer.add_task("tick", trigger=0.05)
            print("running", flush=True)
            timer.run_forever()
            (status,) = timer.status()
            print("stopped", status.last_uuid is not None, timer.is_leader, flush=True)
            app.close()
            """
        )
    )
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "running"
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert out.strip() == "stopped True False"


@pytest.mark.anyio
async def test_timers_run_as_a_service_beside_the_worker() -> None:
    app = QueueTasks(f"service-{uuid.uuid4().hex[:8]}")
    seen = anyio.Event()
    runs: list[str] = []

    @app.task
    async def beat() -> None:
        runs.append("beat")
        if len(runs) >= 2:
            seen.set()

    timer = AsyncTimer(app)
    timer.add_task("beat", trigger=0.1)
    app.starter.add_service(run_timers)  # type: ignore[attr-defined]
    async with app.running(concurrency=2):
        with anyio.fail_after(10):
            await seen.wait()
    assert not timer.running


@pytest.mark.anyio
async def test_the_service_refuses_an_app_without_timers() -> None:
    app = QueueTasks("no-timers")
    with pytest.raises(ConfigurationError, match="has no timers"):
        await run_timers(app)
    with pytest.raises(TypeError, match="QueueTasks app"):
        timers_of(object())


def test_stop_before_start_means_run_forever_returns_at_once() -> None:
    app = SyncQueueTasks(f"sync-early-{uuid.uuid4().hex[:8]}")
    try:
        timer = SyncTimer(app)
        timer.stop()  # a stop that comes before the timer's loop started still counts
        app.call(timer._serve)
        assert not timer.aio.running
    finally:
        app.close()
