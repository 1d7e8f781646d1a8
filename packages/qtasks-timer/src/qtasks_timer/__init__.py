"""QTasks timers: schedules that queue tasks, run inside worker processes or on their own.

``AsyncTimer(app)`` for the async app, ``SyncTimer(app)`` for the sync one. Schedules take
cron strings, intervals, dates or APScheduler triggers; several processes running the same
timer fire each tick once (a lease in the app's global config decides which).
"""

from qtasks_timer.__about__ import __version__
from qtasks_timer.clock import Clock, ManualClock, SystemClock
from qtasks_timer.schedule import (
    MISSED_POLICIES,
    MissedPolicy,
    Plan,
    Schedule,
    ScheduleStatus,
    plan_ticks,
)
from qtasks_timer.service import run_timers, timers_of
from qtasks_timer.sync import SyncTimer
from qtasks_timer.timer import AsyncTimer

__all__ = [
    "MISSED_POLICIES",
    "AsyncTimer",
    "Clock",
    "ManualClock",
    "MissedPolicy",
    "Plan",
    "Schedule",
    "ScheduleStatus",
    "SyncTimer",
    "SystemClock",
    "__version__",
    "plan_ticks",
    "run_timers",
    "timers_of",
]
