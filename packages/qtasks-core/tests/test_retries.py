"""Retries: how many, on which exceptions, how long between them, and what is recorded."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from qtasks import MaxTimeExceededError, Retry, TaskStatus
from qtasks.asyncio import QueueTasks
from qtasks.definition import TaskDefinition
from qtasks.executor import backoff_delay, retry_decision

pytestmark = pytest.mark.anyio


async def test_a_task_is_retried_until_it_succeeds_and_every_attempt_is_kept(
    app: QueueTasks,
) -> None:
    calls: list[float] = []

    @app.task(retry=3, retry_backoff=0.05)
    async def flaky() -> str:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise ConnectionError(f"attempt {len(calls)} failed")
        return "third time lucky"

    async with app.running():
        done = await app.add_task("flaky", timeout=10)
    assert done.status == "success"
    assert done.returning == "third time lucky"
    assert done.retries == 2
    assert [(a.number, a.status) for a in done.attempts] == [
        (1, TaskStatus.RETRY),
        (2, TaskStatus.RETRY),
        (3, TaskStatus.SUCCESS),
    ]
    assert done.attempts[0].error == "ConnectionError: attempt 1 failed"
    # exponential backoff with jitter: attempt 1 waits 0.025-0.05 s, attempt 2 0.05-0.1 s
    first_gap, second_gap = calls[1] - calls[0], calls[2] - calls[1]
    assert 0.02 <= first_gap < 2
    assert 0.045 <= second_gap < 2


async def test_retries_run_out_and_the_last_error_is_stored(app: QueueTasks) -> None:
    @app.task(retry=2, retry_backoff=0)
    def always_fails() -> None:
        raise OSError("disk on fire")

    async with app.running():
        done = await app.add_task("always_fails", timeout=10)
    assert done.status == "error"
    assert done.error == "OSError: disk on fire (gave up after 3 attempt(s) (retry=2))"
    assert [a.status for a in done.attempts] == [
        TaskStatus.RETRY,
        TaskStatus.RETRY,
        TaskStatus.ERROR,
    ]
    assert done.retries == 2
    assert done.finished_at is not None


async def test_only_listed_exceptions_are_retried(app: QueueTasks) -> None:
    raised: list[type[Exception]] = []

    @app.task(retry=3, retry_on_exc=(OSError,), retry_backoff=0)
    def picky(kind: str) -> None:
        exc: type[Exception] = {"os": FileNotFoundError, "value": ValueError}[kind]
        raised.append(exc)
        raise exc(kind)

    async with app.running():
        not_listed = await app.add_task("picky", "value", timeout=10)
        listed = await app.add_task("picky", "os", timeout=10)
    assert not_listed.status == "error"
    assert not_listed.retries == 0
    assert listed.status == "error"  # FileNotFoundError is an OSError: retried 3 times
    assert listed.retries == 3
    assert raised.count(FileNotFoundError) == 4


async def test_retry_raised_by_the_task_sets_its_own_delay(app: QueueTasks) -> None:
    seen: list[float] = []

    @app.task(retry=1, retry_backoff=30)
    async def polite() -> str:
        seen.append(time.monotonic())
        if len(seen) == 1:
            raise Retry("rate limited", delay=0.05)
        return "ok"

    async with app.running():
        done = await app.add_task("polite", timeout=10)
    assert done.returning == "ok"
    assert done.attempts[0].error == "Retry: rate limited"
    assert 0.04 <= seen[1] - seen[0] < 5  # the task's 0.05 s, not the 30 s backoff


async def test_asking_for_more_retries_than_allowed_is_an_error(app: QueueTasks) -> None:
    @app.task
    def greedy() -> None:
        raise Retry("again please")

    async with app.running():
        done = await app.add_task("greedy", timeout=10)
    assert done.status == "error"
    assert done.error == "Retry requested (again please) but gave up after 1 attempt(s) (retry=0)"


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    definition = TaskDefinition(name="t", func=lambda: None, retry_backoff=1, retry_backoff_max=5)
    for attempt, nominal in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)]:
        delays = {backoff_delay(definition, attempt) for _ in range(50)}
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert len(delays) > 1  # jitter spreads tasks that failed together
    immediate = TaskDefinition(name="t", func=lambda: None, retry_backoff=0)
    assert backoff_delay(immediate, 3) == 0.0


def test_retry_decision() -> None:
    definition = TaskDefinition(name="t", func=lambda: None, retry=1, retry_on_exc=KeyError)
    assert retry_decision(definition, KeyError("k"), 1)[0] is True
    assert retry_decision(definition, ValueError("v"), 1) == (False, 0.0, None)
    assert retry_decision(definition, KeyError("k"), 2)[2] == "gave up after 2 attempt(s) (retry=1)"
    explicit = retry_decision(definition, Retry(delay=-3), 1)
    assert explicit == (True, 0.0, None)
    plain = TaskDefinition(name="p", func=lambda: None)
    assert retry_decision(plain, ValueError(), 1) == (False, 0.0, None)


async def test_max_time_cancels_an_async_task(app: QueueTasks) -> None:
    reached_end: list[bool] = []

    @app.task(max_time=0.1)
    async def slow() -> None:
        await anyio.sleep(5)
        reached_end.append(True)

    async with app.running():
        start = time.monotonic()
        done = await app.add_task("slow", timeout=10)
    assert time.monotonic() - start < 3
    assert done.status == "error"
    assert done.error is not None
    assert done.error.startswith("MaxTimeExceededError: task 'slow'")
    assert "exceeded its max_time of 0.1 s" in done.error
    assert reached_end == []


async def test_max_time_marks_a_sync_task_timed_out_and_can_retry_it(app: QueueTasks) -> None:
    release = threading.Event()
    runs: list[int] = []

    @app.task(max_time=0.1, retry=1, retry_on_exc=MaxTimeExceededError, retry_backoff=0)
    def stuck() -> str:
        runs.append(1)
        if len(runs) == 1:
            release.wait(5)  # a thread cannot be stopped: it is left to finish on its own
            return "too late"
        return "second attempt"

    async with app.running(concurrency=2):
        done = await app.add_task("stuck", timeout=10)
        release.set()
    assert done.status == "success"
    assert done.returning == "second attempt"
    assert done.attempts[0].error is not None
    assert "MaxTimeExceededError" in done.attempts[0].error
