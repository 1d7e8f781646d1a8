"""RedisStorage details beyond the conformance suite: how batches of records are split."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from qtasks.serializers.json import JsonSerializer
from qtasks.task import Task, TaskStatus
from qtasks_redis import RedisStorage, keys
from qtasks_redis._connection import ScriptCall


def _record(uuid: str, status: TaskStatus = TaskStatus.NEW, delay: float | None = None) -> Task:
    now = datetime.now(timezone.utc)
    eta = None if delay is None else now + timedelta(seconds=delay)
    return Task(uuid=uuid, task_name="t", status=status, created_at=now, eta=eta)


@pytest.mark.anyio
async def test_conditional_writes_answer_in_the_callers_order(redis_url: str, name: str) -> None:
    # Records delayed by different amounts get different lifetimes, so they travel in
    # separate script calls; the answers must still line up with the records given.
    storage = RedisStorage(redis_url)
    storage.bind(name, JsonSerializer())
    await storage.start()
    try:
        await storage.save([_record(u, TaskStatus.SUCCESS) for u in ("done", "done2")])
        batch = [_record("done"), _record("late", delay=3600), _record("done2"), _record("now")]
        written = await storage.save(batch, only_if={TaskStatus.NEW})
        assert written == [False, True, False, True]
        stored = await storage.get_many(["late", "done", "now", "missing"])
        assert [t.status if t else None for t in stored] == [
            TaskStatus.NEW,
            TaskStatus.SUCCESS,
            TaskStatus.NEW,
            None,
        ]
        assert await storage.delete(["late", "done", "missing"]) == 2
    finally:
        await storage.stop()


def test_one_server_gets_one_script_call_per_batch_a_cluster_one_per_slot() -> None:
    records = [_record(f"u{i}") for i in range(40)]
    single = RedisStorage("redis://127.0.0.1:6379/0")
    cluster = RedisStorage("redis://127.0.0.1:7000/0?cluster=true")
    for storage in (single, cluster):
        storage.bind("app", JsonSerializer())
    (call,) = single.save_commands(records)
    assert isinstance(call, ScriptCall)
    assert len(call.keys) == 40
    calls = cluster.save_commands(records)
    assert all(isinstance(c, ScriptCall) for c in calls)
    slots = [{keys.hash_slot(k) for k in c.keys} for c in calls if isinstance(c, ScriptCall)]
    assert all(len(s) == 1 for s in slots)
    assert len(calls) == len({keys.hash_slot(keys.task_key("app", t.uuid)) for t in records})
    assert sorted(k for c in calls if isinstance(c, ScriptCall) for k in c.keys) == sorted(
        keys.task_key("app", t.uuid) for t in records
    )
