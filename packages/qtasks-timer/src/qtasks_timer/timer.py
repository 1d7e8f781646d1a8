"""AsyncTimer: schedules that queue tasks, fired once per tick by whichever process leads.

Every process that runs the same timer (same app name, same timer name) competes for one
lease in the app's global config; the holder fires, the others wait. The holder renews the
lease every third of its TTL and gives it up when it stops, so a clean shutdown hands over at
once and a crash hands over within ``lease_ttl + lease_ttl / 3`` seconds. Each fire moves the
schedule's shared state forward with a compare-and-set before queueing, so a tick is never
fired twice even if two processes briefly both think they lead. The price: a process that
dies between that write and the enqueue loses the tick (at most once per tick, by design).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid as uuid_module
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta, timezone, tzinfo
from typing import Any, Protocol, TypeVar

import anyio

from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.exceptions import ConfigurationError, UnknownTaskError
from qtasks.task import Task
from qtasks_timer._lease import Lease
from qtasks_timer._registry import attach
from qtasks_timer._state import ScheduleState, state_key
from qtasks_timer._triggers import (
    TriggerSpec,
    describe_trigger,
    make_trigger,
    resolve_timezone,
)
from qtasks_timer.clock import Clock, SystemClock
from qtasks_timer.schedule import (
    MissedPolicy,
    Plan,
    Schedule,
    ScheduleStatus,
    plan_ticks,
    schedule_id,
)

__all__ = ["AsyncTimer"]

logger = logging.getLogger("qtasks.timer")


class _NamedTask(Protocol):
    @property
    def name(self) -> str: ...


TaskT = TypeVar("TaskT", bound=_NamedTask)


class AsyncTimer:
    """Schedules for one app; ``await timer.run_forever()`` fires them.

    ``name`` identifies the timer across processes (its lease and state keys). ``timezone`` is
    the default for schedules that do not name one (UTC unless told otherwise). ``lease_ttl``
    bounds the takeover time after a crash. ``clock`` decides what "now" is (tests pass a
    ``ManualClock``). Adding and removing schedules is allowed while the timer runs.
    """

    def __init__(
        self,
        app: AsyncQueueTasks,
        *,
        name: str = "default",
        timezone: str | tzinfo = "UTC",
        lease_ttl: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        given: object = app  # checked at run time: people pass the sync app here
        if not isinstance(given, AsyncQueueTasks):
            hint = " (for the sync app use SyncTimer)" if hasattr(given, "aio") else ""
            raise TypeError(f"AsyncTimer needs the async QueueTasks app{hint}")
        if not isinstance(name, str) or not name or ":" in name:
            raise ConfigurationError(f"timer name must be a non-empty string without ':', {name!r}")
        if not isinstance(lease_ttl, (int, float)) or not lease_ttl > 0:
            raise ConfigurationError(f"lease_ttl must be a number of seconds > 0, {lease_ttl!r}")
        self.app = app
        self.name = name
        self.timezone = resolve_timezone(timezone, _UTC)
        self.lease_ttl = float(lease_ttl)
        self.clock: Clock = clock or SystemClock()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid_module.uuid4().hex[:8]}"
        self._lease = Lease(app.global_config, f"timer:{name}", self.owner, self.lease_ttl)
        self._schedules: dict[str, Schedule] = {}
        self._states: dict[str, tuple[Any, ScheduleState]] = {}
        self._wake: anyio.Event | None = None
        self._stop: anyio.Event | None = None
        attach(app, self)

    def __repr__(self) -> str:
        return f"<AsyncTimer {self.name!r} of app {self.app.name!r}: {len(self._schedules)} sched.>"

    @property
    def lease_name(self) -> str:
        """The lease every process of this timer competes for."""
        return self._lease.name

    @property
    def is_leader(self) -> bool:
        """Whether this process holds the lease (and so fires ticks) right now."""
        return self._lease.valid

    @property
    def running(self) -> bool:
        """Whether ``run_forever`` is running."""
        return self._stop is not None

    # -- schedules ---------------------------------------------------------------------------

    def add_task(
        self,
        task: str | _NamedTask,
        /,
        *args: Any,
        trigger: TriggerSpec,
        id: str | None = None,
        timezone: str | tzinfo | None = None,
        missed: MissedPolicy = "coalesce",
        grace: float = 1.0,
        priority: int | None = None,
        queue: str | None = None,
        headers: Mapping[str, Any] | None = None,
        task_kwargs: Mapping[str, Any] | None = None,
        require_registered: bool = True,
        **kwargs: Any,
    ) -> Schedule:
        """Schedule ``task`` with ``args``/``kwargs``; return the new ``Schedule``.

        ``trigger``: a cron string (5 fields, or 6 with seconds first), an interval in seconds
        or a ``timedelta``, a ``datetime`` (once), or any APScheduler trigger. ``timezone``
        applies to cron strings, intervals and naive datetimes. ``missed`` and ``grace``: see
        ``qtasks_timer.schedule``. ``require_registered=False`` allows a task that only
        another process registers. Keyword arguments named like these options go in
        ``task_kwargs``.
        """
        name = task if isinstance(task, str) else task.name
        if task_kwargs:
            clash = set(kwargs) & set(task_kwargs)
            if clash:
                raise TypeError(f"task '{name}': {sorted(clash)} given twice")
            kwargs = {**kwargs, **task_kwargs}
        if require_registered and name not in self.app.registry:
            raise UnknownTaskError(name, self.app.registry.names())
        where = f"schedule of task '{name}'" if id is None else f"schedule '{id}'"
        extra = dict(headers or {})
        try:
            self.app.serializer.dumps([list(args), kwargs, extra])
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"{where}: its arguments or headers cannot be encoded by "
                f"{self.app.serializer.name} ({exc}); pass JSON-compatible values"
            ) from None
        tz = resolve_timezone(timezone, self.timezone)
        built = make_trigger(trigger, tz, self.clock.now(), where=where)
        description = describe_trigger(trigger, built)
        sid = id if id is not None else schedule_id(name, description, list(args), kwargs)
        if sid in self._schedules:
            raise ConfigurationError(
                f"timer '{self.name}' already has a schedule '{sid}'; remove it first or pass "
                "another id="
            )
        schedule = Schedule(
            id=sid,
            task_name=name,
            trigger=built,
            description=description,
            args=tuple(args),
            kwargs=kwargs,
            missed=missed,
            grace=grace,
            priority=priority,
            queue=queue,
            headers=extra,
        )
        self._schedules[sid] = schedule
        self._poke()
        return schedule

    def schedule(self, trigger: TriggerSpec, **options: Any) -> Callable[[TaskT], TaskT]:
        """Decorator form of ``add_task`` above ``@app.task``; ``args=(...)`` passes arguments."""
        return self._decorator("schedule", trigger, options)

    def cron(self, expression: str, **options: Any) -> Callable[[TaskT], TaskT]:
        """``@timer.cron("0 9 * * mon-fri")`` above ``@app.task``."""
        return self._decorator("cron", expression, options)

    def every(self, interval: float | timedelta, **options: Any) -> Callable[[TaskT], TaskT]:
        """``@timer.every(30)`` (seconds) or ``@timer.every(timedelta(hours=1))``."""
        return self._decorator("every", interval, options)

    def _decorator(
        self, form: str, trigger: TriggerSpec, options: dict[str, Any]
    ) -> Callable[[TaskT], TaskT]:
        args = tuple(options.pop("args", ()))

        def decorate(target: TaskT) -> TaskT:
            if not isinstance(getattr(target, "name", None), str):
                raise TypeError(
                    f"@timer.{form}(...) schedules a registered task, so it goes above "
                    f"@app.task; it was given {target!r}"
                )
            self.add_task(target, *args, trigger=trigger, **options)
            return target

        return decorate

    def schedules(self) -> list[Schedule]:
        """Every schedule, in the order they were added."""
        return list(self._schedules.values())

    def get(self, schedule_id: str) -> Schedule | None:
        """The schedule with this id, or ``None``."""
        return self._schedules.get(schedule_id)

    def remove(self, schedule_id: str) -> bool:
        """Stop firing a schedule (takes effect at once, even mid-sleep); ``True`` if it existed.

        Its shared state is kept, so adding the same schedule back continues where it was.
        """
        removed = self._schedules.pop(schedule_id, None) is not None
        self._states.pop(schedule_id, None)
        if removed:
            self._poke()
        return removed

    async def status(self) -> list[ScheduleStatus]:
        """Each schedule with its shared state (read fresh from the global config)."""
        await self.app.start()
        stored = await self.app.global_config.items(state_key(self.name, ""))
        now = self.clock.now()
        out: list[ScheduleStatus] = []
        for schedule in self._schedules.values():
            state = ScheduleState.from_value(stored.get(state_key(self.name, schedule.id)))
            if state is None:
                upcoming = schedule.next_tick(None, now)
                out.append(ScheduleStatus(schedule, None, upcoming, None, None))
                continue
            plan = plan_ticks(schedule, state.last, state.since, now)
            upcoming = plan.fire if plan.fire is not None else plan.next
            out.append(ScheduleStatus(schedule, state.last, upcoming, state.uuid, state.by))
        return out

    async def lease_holder(self) -> str | None:
        """The process firing this timer now (``host:pid:id``), as the lease records it."""
        await self.app.start()
        return await self._lease.holder()

    # -- running -----------------------------------------------------------------------------

    async def run_pending(self) -> list[Task]:
        """Fire whatever is due now, if this process holds or can take the lease.

        Returns the tasks queued. ``run_forever`` does this at each tick; calling it directly
        drives a timer by hand (tests, or a loop of your own).
        """
        await self.app.start()
        await self._renew_lease()
        if not self._lease.valid:
            return []
        fired, _ = await self._fire_due()
        return fired

    async def run_forever(self) -> None:
        """Hold or wait for the lease and fire ticks until cancelled or ``stop()`` is called.

        Runs beside a worker in a task group (``async with app.running(): ...``) or alone.
        The app's components are started if needed and left running (their owner stops them).
        """
        if self._stop is not None:
            raise RuntimeError(f"timer '{self.name}' is already running")
        self._stop = anyio.Event()
        try:
            await self.app.start()
            logger.info(
                "timer %s of app %s running as %s with %d schedule(s)",
                self.name,
                self.app.name,
                self.owner,
                len(self._schedules),
            )
            async with anyio.create_task_group() as group:
                group.start_soon(self._lease_loop)
                group.start_soon(self._fire_loop)
                await self._stop.wait()
                group.cancel_scope.cancel()
        finally:
            self._stop = None
            with anyio.CancelScope(shield=True):
                await self._step_down()

    def stop(self) -> None:
        """Make ``run_forever`` return (call it from the timer's event loop)."""
        if self._stop is not None:
            self._stop.set()

    # -- lease -------------------------------------------------------------------------------

    async def _renew_lease(self) -> None:
        was = self._lease.held
        try:
            await self._lease.renew()
        except Exception as exc:
            if was:
                logger.warning("timer %s: could not renew its lease: %r", self.name, exc)
        if self._lease.held != was:
            self._states.clear()  # another process may have moved things on meanwhile
            logger.info(
                "timer %s: %s is %s the leader",
                self.name,
                self.owner,
                "now" if self._lease.held else "no longer",
            )
            self._poke()

    async def _lease_loop(self) -> None:
        while True:
            await self._renew_lease()
            await anyio.sleep(self.lease_ttl / 3)

    async def _step_down(self) -> None:
        if not self._lease.held:
            return
        self._states.clear()
        with anyio.move_on_after(2):
            try:
                await self._lease.release()
            except Exception as exc:
                logger.warning("timer %s: could not release its lease: %r", self.name, exc)

    # -- firing ------------------------------------------------------------------------------

    def _poke(self) -> None:
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.set()

    async def _fire_loop(self) -> None:
        failures = 0
        while True:
            wake = self._wake = anyio.Event()
            if not self._lease.valid:
                await wake.wait()
                continue
            try:
                _, soonest = await self._fire_due()
                failures = 0
            except Exception as exc:
                failures += 1
                logger.error("timer %s: firing failed, retrying: %r", self.name, exc)
                with anyio.move_on_after(min(30.0, 0.1 * 2**failures)):
                    await wake.wait()
                continue
            if soonest is None:
                await wake.wait()
            else:
                await self._sleep_until(soonest, wake)

    async def _sleep_until(self, when: float, wake: anyio.Event) -> None:
        async with anyio.create_task_group() as group:

            async def woken() -> None:
                await wake.wait()
                group.cancel_scope.cancel()

            group.start_soon(woken)
            await self.clock.sleep_until(when)
            group.cancel_scope.cancel()

    async def _fire_due(self) -> tuple[list[Task], float | None]:
        """Handle every due tick of every schedule; return the tasks queued and the next tick."""
        if not self._states and self._schedules:
            stored = await self.app.global_config.items(state_key(self.name, ""))
            for schedule_id_ in self._schedules:
                raw = stored.get(state_key(self.name, schedule_id_))
                state = ScheduleState.from_value(raw)
                if state is not None:
                    self._states[schedule_id_] = (raw, state)
        fired: list[Task] = []
        soonest: float | None = None
        now = self.clock.now()
        for schedule in list(self._schedules.values()):
            if not self._lease.valid or schedule.id not in self._schedules:
                continue
            state = await self._state_of(schedule, now)
            if state is None:
                retry_at = now + 0.5
                soonest = retry_at if soonest is None else min(soonest, retry_at)
                continue
            plan = plan_ticks(schedule, state.last, state.since, now)
            upcoming = plan.next
            if plan.handled is not None:
                task, retry = await self._handle(schedule, state, plan)
                if task is not None:
                    fired.append(task)
                if retry:
                    upcoming = now + 1.0  # the enqueue failed and was rolled back
            if upcoming is not None:
                soonest = upcoming if soonest is None else min(soonest, upcoming)
        return fired, soonest

    async def _state_of(self, schedule: Schedule, now: float) -> ScheduleState | None:
        cached = self._states.get(schedule.id)
        if cached is not None:
            return cached[1]
        key = state_key(self.name, schedule.id)
        config = self.app.global_config
        fresh = ScheduleState(since=now)
        if await config.compare_and_set(key, None, fresh.to_value()):
            self._states[schedule.id] = (fresh.to_value(), fresh)
            return fresh
        raw = await config.get(key)
        state = ScheduleState.from_value(raw)
        if state is None:
            if raw is not None:
                logger.warning("timer %s: replacing unreadable state of %s", self.name, key)
                await config.compare_and_set(key, raw, fresh.to_value())
            return None  # looked at again on the next round
        self._states[schedule.id] = (raw, state)
        return state

    async def _handle(
        self, schedule: Schedule, state: ScheduleState, plan: Plan
    ) -> tuple[Task | None, bool]:
        """Claim the plan's tick in the shared state, then queue; ``(task, retry soon)``."""
        fire, handled, missed = plan.fire, plan.handled, plan.missed
        assert handled is not None
        key = state_key(self.name, schedule.id)
        config = self.app.global_config
        raw = self._states[schedule.id][0]
        claimed = ScheduleState(since=state.since, last=handled, uuid=state.uuid, by=self.owner)
        if not await config.compare_and_set(key, raw, claimed.to_value()):
            # Someone else moved this schedule on; read it again next round.
            self._states.pop(schedule.id, None)
            self._poke()
            return None, False
        self._states[schedule.id] = (claimed.to_value(), claimed)
        if fire is None:
            logger.warning(
                "timer %s: schedule %s skipped %d missed tick(s), the last at %s (missed='skip')",
                self.name,
                schedule.id,
                missed,
                schedule.tick_label(handled),
            )
            return None, False
        headers: dict[str, Any] = {
            **schedule.headers,
            "timer": self.name,
            "schedule": schedule.id,
            "tick": schedule.tick_label(fire),
        }
        if missed:
            headers["missed"] = missed
        try:
            task = await self.app.add_task(
                schedule.task_name,
                *schedule.args,
                priority=schedule.priority,
                queue=schedule.queue,
                headers=headers,
                task_kwargs=schedule.kwargs,
            )
        except Exception as exc:
            logger.error(
                "timer %s: could not queue %s for tick %s: %r",
                self.name,
                schedule.task_name,
                headers["tick"],
                exc,
            )
            if await _quietly(config.compare_and_set(key, claimed.to_value(), raw)):
                self._states[schedule.id] = (raw, state)
                return None, True
            return None, False
        done = ScheduleState(since=state.since, last=handled, uuid=task.uuid, by=self.owner)
        if await _quietly(config.compare_and_set(key, claimed.to_value(), done.to_value())):
            self._states[schedule.id] = (done.to_value(), done)
        logger.info(
            "timer %s: schedule %s tick %s queued %s as %s%s",
            self.name,
            schedule.id,
            headers["tick"],
            schedule.task_name,
            task.uuid,
            f" (standing for {missed} missed tick(s))" if missed else "",
        )
        return task, False


async def _quietly(write: Awaitable[bool]) -> bool:
    try:
        return await write
    except Exception as exc:
        logger.warning("timer state write failed: %r", exc)
        return False


_UTC = timezone.utc
