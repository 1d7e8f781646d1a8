from __future__ import annotations

from datetime import datetime, timezone

import pytest

from qtasks import Attempt, Task, TaskStatus
from qtasks.task import FINAL_STATUSES


def test_status_is_a_str_enum_that_compares_to_strings() -> None:
    assert TaskStatus.SUCCESS == "success"
    assert str(TaskStatus.ERROR) == "error"
    assert f"{TaskStatus.CANCEL}" == "cancel"
    assert f"{TaskStatus.NEW:>5}" == "  new"
    assert TaskStatus("retry") is TaskStatus.RETRY
    assert {s.value for s in TaskStatus} == {
        "new",
        "process",
        "success",
        "error",
        "cancel",
        "retry",
    }


def test_final_statuses() -> None:
    assert FINAL_STATUSES == {TaskStatus.SUCCESS, TaskStatus.ERROR, TaskStatus.CANCEL}
    assert TaskStatus.SUCCESS.is_final and not TaskStatus.RETRY.is_final
    assert not TaskStatus.PROCESS.is_final


def test_record_round_trips_through_plain_data() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    task = Task(
        uuid="u1",
        task_name="add",
        status=TaskStatus.SUCCESS,
        priority=-3,
        queue="q",
        args=(1, [2, 3]),
        kwargs={"k": {"x": None}},
        returning={"r": 1.5},
        error=None,
        traceback=None,
        cancel_reason=None,
        parent_uuid="p",
        created_at=now,
        updated_at=now,
        started_at=now,
        finished_at=now,
        eta=now,
        retries=2,
        progress=[1, "two"],
        attempts=[Attempt(1, TaskStatus.RETRY, now, now, "ValueError: x")],
    )
    data = task.to_dict()
    again = Task.from_dict(data)
    assert again == task
    assert again.args == (1, [2, 3])
    assert again.attempts[0].error == "ValueError: x"
    assert again.created_at == now
    assert again.is_finished


def test_equality_ignores_the_waiter_and_records_are_unhashable() -> None:
    a = Task(uuid="u", task_name="t", status=TaskStatus.NEW)
    b = a.copy()
    b.with_waiter(object())  # type: ignore[arg-type]
    assert a == b
    assert a != b.copy(status=TaskStatus.ERROR)
    assert (a == "u") is False
    with pytest.raises(TypeError):
        hash(a)


def test_repr_is_short_and_shows_what_matters() -> None:
    task = Task(uuid="u", task_name="t", status=TaskStatus.SUCCESS, returning=3)
    assert repr(task) == "Task(status='success', uuid='u', task_name='t', returning=3)"
    failed = Task(uuid="u", task_name="t", status=TaskStatus.ERROR, error="E: x", retries=2)
    assert "error='E: x'" in repr(failed) and "retries=2" in repr(failed)
    cancelled = Task(uuid="u", task_name="t", status=TaskStatus.CANCEL, cancel_reason="r")
    assert "cancel_reason='r'" in repr(cancelled)


def test_waiting_on_a_record_without_an_app_says_what_to_do() -> None:
    task = Task(uuid="u", task_name="t", status=TaskStatus.NEW)
    with pytest.raises(RuntimeError, match="not obtained from an app"):
        task.wait_result(1)


@pytest.mark.anyio
async def test_async_waiting_without_an_app_fails_too() -> None:
    task = Task(uuid="u", task_name="t", status=TaskStatus.NEW)
    with pytest.raises(RuntimeError, match="app.wait_result"):
        await task.wait_result_async(1)


def test_from_dict_tolerates_missing_optional_fields() -> None:
    task = Task.from_dict({"uuid": "u", "task_name": "t", "status": "new", "created_at": 0.0})
    assert task.updated_at == task.created_at
    assert task.args == () and task.kwargs == {} and task.attempts == []
