from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from qtasks.asyncio import QueueTasks
from qtasks_timer import ManualClock

#: Monday 2024-01-15 08:59:30 UTC: a winter date, 30 s before a cron tick at 09:00 UTC.
START = 1705309170.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def app() -> AsyncIterator[QueueTasks]:
    application = QueueTasks(f"timer-test-{uuid.uuid4().hex[:8]}")

    @application.task
    def report(kind: str = "daily", *, to: str = "ops") -> str:
        return f"{kind}:{to}"

    @application.task(queue="slow", priority=5)
    async def cleanup() -> None:
        return None

    yield application
    await application.stop()
