"""SyncTimer: the timer for the sync app, a thin layer over ``AsyncTimer``.

The async timer runs on the sync app's event-loop thread, beside its components;
``run_forever`` blocks the caller (SIGINT/SIGTERM stop it when called from the main thread)
and ``running()`` runs it in the background for a ``with`` block.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from types import FrameType
from typing import Any

import anyio.from_thread
import anyio.lowlevel

from qtasks.app import QueueTasks as SyncQueueTasks
from qtasks.task import Task
from qtasks_timer._triggers import TriggerSpec
from qtasks_timer.schedule import Schedule, ScheduleStatus
from qtasks_timer.timer import AsyncTimer, TaskT, _NamedTask

__all__ = ["SyncTimer"]


class SyncTimer:
    """Schedules for a sync app; the same options as ``AsyncTimer`` (``timer.aio`` is it)."""

    def __init__(self, app: SyncQueueTasks, **options: Any) -> None:
        if not isinstance(app, SyncQueueTasks):
            raise TypeError(
                "SyncTimer needs the sync QueueTasks app (AsyncTimer is for the async one)"
            )
        self.app = app
        self.aio = AsyncTimer(app.aio, **options)
        self._lock = threading.Lock()
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._stop_requested = False

    def __repr__(self) -> str:
        return f"<SyncTimer {self.name!r} of app {self.app.name!r}: {len(self.schedules())} sched.>"

    @property
    def name(self) -> str:
        """The timer's name (its lease and state keys)."""
        return self.aio.name

    @property
    def owner(self) -> str:
        """This process's identity in the lease."""
        return self.aio.owner

    @property
    def is_leader(self) -> bool:
        """Whether this process fires the ticks right now."""
        return self.aio.is_leader

    # -- schedules (no I/O: the same calls as the async timer) -------------------------------

    def add_task(self, task: str | _NamedTask, /, *args: Any, **options: Any) -> Schedule:
        """Schedule a task; see ``AsyncTimer.add_task``."""
        return self.aio.add_task(task, *args, **options)

    def schedule(self, trigger: TriggerSpec, **options: Any) -> Callable[[TaskT], TaskT]:
        """Decorator above ``@app.task``; see ``AsyncTimer.schedule``."""
        return self.aio.schedule(trigger, **options)

    def cron(self, expression: str, **options: Any) -> Callable[[TaskT], TaskT]:
        """``@timer.cron("0 9 * * mon-fri")`` above ``@app.task``."""
        return self.aio.cron(expression, **options)

    def every(self, interval: float | timedelta, **options: Any) -> Callable[[TaskT], TaskT]:
        """``@timer.every(30)`` above ``@app.task``."""
        return self.aio.every(interval, **options)

    def schedules(self) -> list[Schedule]:
        """Every schedule."""
        return self.aio.schedules()

    def get(self, schedule_id: str) -> Schedule | None:
        """The schedule with this id, or ``None``."""
        return self.aio.get(schedule_id)

    def remove(self, schedule_id: str) -> bool:
        """Stop firing a schedule; ``True`` if it existed."""
        return self.aio.remove(schedule_id)

    def status(self) -> list[ScheduleStatus]:
        """Each schedule with its shared state."""
        return self.app.call(self.aio.status)

    def lease_holder(self) -> str | None:
        """The process firing this timer now."""
        return self.app.call(self.aio.lease_holder)

    # -- running -----------------------------------------------------------------------------

    def run_pending(self) -> list[Task]:
        """Fire what is due now if this process holds or can take the lease."""
        return [t.with_waiter(self.app) for t in self.app.call(self.aio.run_pending)]

    def run_forever(self) -> None:
        """Fire ticks until ``stop()`` or, from the main thread, SIGINT/SIGTERM."""
        with self._lock:
            self._stop_requested = False
        with self._signals_stop():
            self.app.call(self._serve)

    @contextmanager
    def running(self) -> Iterator[SyncTimer]:
        """Run the timer in the background for the ``with`` body, then stop it."""
        with self._lock:
            self._stop_requested = False
        started = threading.Event()
        failure: list[BaseException] = []

        def target() -> None:
            try:
                self.app.call(partial(self._serve, started))
            except BaseException as exc:  # handed to the caller below
                failure.append(exc)
            finally:
                started.set()

        thread = threading.Thread(target=target, name=f"qtasks-timer-{self.name}", daemon=True)
        thread.start()
        started.wait()
        try:
            if failure:
                raise failure[0]
            yield self
        finally:
            self.stop()
            thread.join()
        if failure:
            raise failure[0]

    def stop(self) -> None:
        """Make ``run_forever`` (or ``running()``) finish; safe from any thread."""
        with self._lock:
            self._stop_requested = True
            token = self._token
        if token is not None:
            try:
                anyio.from_thread.run_sync(self.aio.stop, token=token)
            except RuntimeError:  # already on the loop thread, or the loop has gone
                self.aio.stop()

    async def _serve(self, started: threading.Event | None = None) -> None:
        with self._lock:
            self._token = anyio.lowlevel.current_token()
            stop_first = self._stop_requested
        try:
            if started is not None:
                started.set()
            if not stop_first:
                await self.aio.run_forever()
        finally:
            with self._lock:
                self._token = None

    @contextmanager
    def _signals_stop(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_signal(signum: int, frame: FrameType | None) -> None:
            self.stop()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
