from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import anyio
import pytest

from qtasks import (
    CancelTask,
    ConfigurationError,
    Outcome,
    Plugin,
    Retry,
    Task,
    TaskCall,
    TaskStatus,
)
from qtasks.asyncio import QueueTasks
from qtasks.interfaces import Delivery, OutgoingMessage, Worker
from qtasks.interfaces.component import Component
from qtasks.message import TaskMessage
from qtasks.plugins import DependsPlugin, RetryPlugin

pytestmark = pytest.mark.anyio


class Recorder(Plugin):
    """Writes every hook it sees into a shared journal, tagged with its own name."""

    def __init__(self, tag: str, journal: list[str]) -> None:
        self.tag = tag
        self.journal = journal

    def before_execute(self, call: TaskCall) -> None:
        self.journal.append(f"{self.tag}.before_execute")

    async def after_execute(self, call: TaskCall, result: Any) -> Any:
        self.journal.append(f"{self.tag}.after_execute")
        return None

    def on_success(self, call: TaskCall, result: Any) -> None:
        self.journal.append(f"{self.tag}.on_success")

    async def after_attempt(self, call: TaskCall, outcome: Outcome) -> None:
        self.journal.append(f"{self.tag}.after_attempt:{outcome.status}")


async def test_only_overridden_hooks_are_listed(app: QueueTasks) -> None:
    @app.task
    async def plain() -> None:
        return None

    definition = plain.definition
    quiet = app.plugins.for_task(definition)
    assert not (quiet.before_execute or quiet.after_execute or quiet.on_success)
    assert not (quiet.after_attempt or quiet.middlewares)
    assert not (app.plugins.before_add_task or app.plugins.on_broker_receive)
    assert [h.plugin for h in quiet.on_error] == [app.plugins.get(RetryPlugin)]

    class OnlyBefore(Plugin):
        async def before_execute(self, call: TaskCall) -> None:
            return None

    app.add_plugin(OnlyBefore())
    busy = app.plugins.for_task(definition)
    assert [h.name for h in busy.before_execute] == ["before_execute"]
    assert not busy.after_execute and not app.plugins.before_add_task


async def test_after_hooks_run_in_reverse_order_and_sync_and_async_hooks_mix(
    app: QueueTasks,
) -> None:
    journal: list[str] = []
    app.add_plugin(Recorder("a", journal))
    app.add_plugin(Recorder("b", journal))

    @app.task
    async def job() -> int:
        journal.append("job")
        return 1

    async with app.running():
        done = await app.add_task("job", timeout=5)
    assert done.returning == 1
    assert journal == [
        "a.before_execute",
        "b.before_execute",
        "job",
        "b.after_execute",
        "a.after_execute",
        "b.on_success",
        "a.on_success",
        "b.after_attempt:success",
        "a.after_attempt:success",
    ]


async def test_after_execute_replaces_the_result_and_none_keeps_it(app: QueueTasks) -> None:
    class Doubler(Plugin):
        def after_execute(self, call: TaskCall, result: Any) -> Any:
            return result * 2 if call.definition.name == "five" else None

    class Witness(Plugin):
        seen: list[Any] = []

        async def after_execute(self, call: TaskCall, result: Any) -> Any:
            self.seen.append(result)
            return None

    app.add_plugin(Doubler())
    witness = Witness()
    app.add_plugin(witness)  # added last, so it sees the result first

    @app.task
    def five() -> int:
        return 5

    @app.task
    def word() -> str:
        return "kept"

    async with app.running():
        assert (await app.add_task("five", timeout=5)).returning == 10
        assert (await app.add_task("word", timeout=5)).returning == "kept"
    assert witness.seen == [5, "kept"]


async def test_a_crashing_hook_is_logged_with_the_plugin_name_and_the_task_survives(
    app: QueueTasks, caplog: pytest.LogCaptureFixture
) -> None:
    class Clumsy(Plugin):
        name = "clumsy"

        def before_add_task(self, message: TaskMessage) -> None:
            raise RuntimeError("boom in before_add_task")

        async def before_execute(self, call: TaskCall) -> None:
            raise RuntimeError("boom in before_execute")

        def after_execute(self, call: TaskCall, result: Any) -> Any:
            raise KeyError("boom in after_execute")

        async def after_attempt(self, call: TaskCall, outcome: Outcome) -> None:
            raise ValueError("boom in after_attempt")

    app.add_plugin(Clumsy())

    @app.task
    async def survivor(x: int) -> int:
        return x + 1

    caplog.set_level(logging.ERROR, logger="qtasks.plugins")
    async with app.running():
        done = await app.add_task("survivor", 1, timeout=5)
    assert done.status == "success" and done.returning == 2
    failures = [r for r in caplog.records if r.name == "qtasks.plugins"]
    assert [r.getMessage() for r in failures] == [
        f"plugin clumsy failed in {hook}; carrying on without it"
        for hook in ("before_add_task", "before_execute", "after_execute", "after_attempt")
    ]
    assert all(r.exc_info is not None for r in failures)


async def test_a_hook_returning_the_wrong_type_is_ignored(
    app: QueueTasks, caplog: pytest.LogCaptureFixture
) -> None:
    class Wrong(Plugin):
        def before_add_task(self, message: TaskMessage) -> Any:
            return "not a message"

    app.add_plugin(Wrong())

    @app.task
    def job() -> None:
        return None

    with caplog.at_level(logging.ERROR, logger="qtasks.plugins"):
        record = await app.add_task("job")
    assert record.task_name == "job"
    assert "plugin Wrong returned str from before_add_task, expected TaskMessage" in caplog.text


async def test_producer_hooks_can_rewrite_messages_and_records(app: QueueTasks) -> None:
    class Stamp(Plugin):
        def before_add_task(self, message: TaskMessage) -> TaskMessage:
            return replace(message, headers={**message.headers, "stamped": True}, priority=7)

        async def after_add_task(self, task: Task) -> Task:
            return task.copy(headers={**task.headers, "returned": True})

    app.add_plugin(Stamp())

    @app.task
    def job() -> None:
        return None

    record = await app.add_task("job")
    assert record.headers == {"stamped": True, "returned": True} and record.priority == 7
    stored = await app.get(record.uuid)
    assert stored is not None and stored.headers == {"stamped": True}
    (bulk,) = await app.add_tasks("job", [()])
    assert bulk.headers == {"stamped": True, "returned": True} and bulk.priority == 7


async def test_broker_hooks_see_the_bytes_both_ways(app: QueueTasks) -> None:
    def flip(body: bytes) -> bytes:
        return bytes(b ^ 0x5A for b in body)

    class Scramble(Plugin):
        sent = 0

        def before_broker_send(self, message: OutgoingMessage) -> OutgoingMessage:
            self.sent += 1
            return replace(message, body=flip(message.body))

        async def on_broker_receive(self, delivery: Delivery) -> Delivery:
            delivery.body = flip(delivery.body)
            return delivery

    scramble = Scramble()
    app.add_plugin(scramble)

    @app.task(retry=1, retry_backoff=0)
    async def flaky(box: list[int]) -> str:
        if not box:
            raise ValueError("empty box")
        return "full"

    @app.task
    async def echo(text: str) -> str:
        return text

    record = await app.add_task("echo", "secret")
    (delivery,) = await app.broker.receive(["default"], 1, 1)
    assert b"secret" not in delivery.body  # what the broker holds is scrambled
    await app.broker.nack([delivery])
    async with app.running():
        assert (await record.wait_result_async(5)).returning == "secret"
        failed = await app.add_task("flaky", [], timeout=5)
    assert failed.status == "error" and len(failed.attempts) == 2
    assert scramble.sent == 3  # two tasks queued, one retry


async def test_before_storage_save_sees_every_status_change(app: QueueTasks) -> None:
    class Trail(Plugin):
        def before_storage_save(self, task: Task) -> Task:
            trail = [*task.headers.get("trail", []), task.status.value]
            return task.copy(headers={**task.headers, "trail": trail})

    app.add_plugin(Trail())

    @app.task(retry=1, retry_backoff=0)
    async def twice(state: dict[str, int]) -> str:
        if not state.get("done"):
            raise Retry("again", delay=0)
        return "ok"

    async with app.running():
        record = await app.add_task("twice", {})
        final = await record.wait_result_async(5)
    # Each attempt's record is rebuilt from the message, whose headers the hook did not
    # touch, so the final record shows the statuses of the last attempt.
    assert final.status == "error"
    assert final.headers["trail"] == ["process", "error"]
    queued = await app.add_task("twice", {"done": 1})
    await app.cancel(queued.uuid, "changed my mind")
    cancelled = await app.get(queued.uuid)
    assert cancelled is not None and cancelled.headers["trail"] == ["new", "cancel"]


async def test_outcome_hooks_see_errors_before_the_retry_policy(app: QueueTasks) -> None:
    seen: list[tuple[str, Any]] = []

    class Watcher(Plugin):
        def on_error(self, call: TaskCall, outcome: Outcome) -> None:
            seen.append(("error", (call.message.attempt, outcome.status.value)))

        def on_retry(self, call: TaskCall, outcome: Outcome) -> Outcome:
            seen.append(("retry", outcome.retry_delay))
            return replace(outcome, retry_delay=0.0)

        async def on_cancel(self, call: TaskCall, outcome: Outcome) -> None:
            seen.append(("cancel", outcome.cancel_reason))

    app.add_plugin(Watcher())

    @app.task(retry=1, retry_backoff=60)  # the hook shortens the 30-60 s backoff to 0
    async def fails() -> None:
        raise OSError("down")

    @app.task(echo=True)
    async def quits(self: Any) -> None:
        self.ctx.cancel("not today")

    async with app.running():
        failed = await app.add_task("fails", timeout=5)
        cancelled = await app.add_task("quits", timeout=5)
    assert failed.status == "error"
    assert failed.error == "OSError: down (gave up after 2 attempt(s) (retry=1))"
    assert seen[0] == ("error", (1, "error"))
    assert seen[1][0] == "retry" and 30 <= seen[1][1] <= 60
    assert seen[2] == ("error", (2, "error"))
    assert seen[3] == ("cancel", "not today")
    assert cancelled.status == "cancel" and cancelled.cancel_reason == "not today"


async def test_before_execute_may_end_the_attempt_on_purpose(app: QueueTasks) -> None:
    class Gate(Plugin):
        def before_execute(self, call: TaskCall) -> None:
            if call.message.headers.get("deny"):
                raise CancelTask("denied by gate")
            if call.message.headers.get("later") and call.message.attempt == 1:
                raise Retry("not yet", delay=0)

    app.add_plugin(Gate())
    runs: list[int] = []

    @app.task(retry=1)
    async def guarded() -> str:
        runs.append(1)
        return "ran"

    async with app.running():
        denied = await app.add_task("guarded", headers={"deny": True}, timeout=5)
        later = await app.add_task("guarded", headers={"later": True}, timeout=5)
    assert denied.status == "cancel" and denied.cancel_reason == "denied by gate"
    assert later.status == "success" and [a.status for a in later.attempts] == [
        TaskStatus.RETRY,
        TaskStatus.SUCCESS,
    ]
    assert runs == [1]


async def test_the_retry_policy_is_a_replaceable_plugin(app: QueueTasks) -> None:
    @app.task(retry=3, retry_backoff=0)
    async def fails() -> None:
        raise OSError("down")

    removed = app.remove_plugin(RetryPlugin)
    assert isinstance(removed, RetryPlugin)
    async with app.running():
        once = await app.add_task("fails", timeout=5)
    assert once.status == "error" and len(once.attempts) == 1

    class AlwaysTwice(Plugin):
        def on_error(self, call: TaskCall, outcome: Outcome) -> Outcome | None:
            if call.message.attempt < 2:
                return replace(outcome, status=TaskStatus.RETRY, retry_delay=0)
            return None

    app.plugins.add(removed, index=0)
    app.plugins.replace(RetryPlugin, AlwaysTwice())
    assert isinstance(next(iter(app.plugins)), AlwaysTwice)  # took the first place
    async with app.running():
        twice = await app.add_task("fails", timeout=5)
    assert [a.status for a in twice.attempts] == [TaskStatus.RETRY, TaskStatus.ERROR]


async def test_lifecycle_hooks_follow_the_starter(app: QueueTasks) -> None:
    journal: list[str] = []

    class Life(Plugin):
        def __init__(self, tag: str) -> None:
            self.tag = tag

        async def on_worker_start(self, worker: Worker) -> None:
            assert worker.running is False  # before the worker consumes
            journal.append(f"{self.tag}.start")

        def on_worker_stop(self, worker: Worker) -> None:
            journal.append(f"{self.tag}.stop")

        def on_component_stop(self, component: Component) -> None:
            journal.append(f"{self.tag}.{type(component).__name__}")

    app.add_plugin(Life("a"))
    app.add_plugin(Life("b"))
    async with app.running():
        journal.append("serving")
    assert journal == [
        "a.start",
        "b.start",
        "serving",
        "b.stop",
        "a.stop",
        *[
            f"{t}.{c}"
            for c in ("MemoryBroker", "MemoryStorage", "MemoryGlobalConfig")
            for t in "ba"
        ],
    ]


async def test_plugins_are_checked_when_added(app: QueueTasks) -> None:
    with pytest.raises(ConfigurationError, match="instances of qtasks.Plugin subclasses"):
        app.add_plugin(object())  # type: ignore[arg-type]

    class AsyncRegister(Plugin):
        async def on_register(self, definition: Any) -> None:  # type: ignore[override]
            return None

    with pytest.raises(ConfigurationError, match="on_register runs at import time"):
        app.add_plugin(AsyncRegister())
    retry = app.plugins.get(RetryPlugin)
    assert retry is not None
    with pytest.raises(ConfigurationError, match="already added"):
        app.add_plugin(retry)
    with pytest.raises(ConfigurationError, match="is not among this app's plugins"):
        app.remove_plugin(Plugin())
    assert len(app.plugins) == 2 and retry in app.plugins
    assert repr(retry) == "<plugin RetryPlugin>"
    assert isinstance(app.plugins.get(DependsPlugin), DependsPlugin)
    with pytest.raises(ConfigurationError, match="must be an async callable"):
        app.add_middleware("not callable")  # type: ignore[arg-type]


async def test_on_register_sees_every_task_and_can_refuse_one(app: QueueTasks) -> None:
    @app.task
    def early() -> None:
        return None

    class Naming(Plugin):
        seen: list[str] = []

        def on_register(self, definition: Any) -> None:
            if definition.name.startswith("bad"):
                raise ConfigurationError(f"task '{definition.name}': names may not start with bad")
            self.seen.append(definition.name)

    naming = Naming()
    app.add_plugin(naming)

    @app.task
    def later() -> None:
        return None

    with pytest.raises(ConfigurationError, match="may not start with bad"):

        @app.task
        def bad_name() -> None:
            return None

    assert naming.seen == ["early", "later"]
    assert "bad_name" not in app.registry


async def test_a_failing_plugin_replacement_leaves_the_old_one(app: QueueTasks) -> None:
    class Refuses(Plugin):
        def on_register(self, definition: Any) -> None:
            raise ConfigurationError("no")

    @app.task
    def job() -> None:
        return None

    with pytest.raises(ConfigurationError):
        app.plugins.replace(RetryPlugin, Refuses(), app.registry)
    assert isinstance(next(iter(app.plugins)), RetryPlugin)


async def test_applies_to_keeps_a_plugin_off_other_tasks(app: QueueTasks) -> None:
    touched: list[str] = []

    class TaggedOnly(Plugin):
        def applies_to(self, definition: Any) -> bool:
            return "audited" in definition.tags

        def before_execute(self, call: TaskCall) -> None:
            touched.append(call.definition.name)

    class Broken(Plugin):
        def applies_to(self, definition: Any) -> bool:
            raise RuntimeError("cannot decide")

        def before_execute(self, call: TaskCall) -> None:
            touched.append(f"broken:{call.definition.name}")

    app.add_plugin(TaggedOnly())
    app.add_plugin(Broken())

    @app.task(tags=["audited"])
    async def audited() -> None:
        return None

    @app.task
    async def ordinary() -> None:
        return None

    async with app.running():
        await app.add_task("audited", timeout=5)
        await app.add_task("ordinary", timeout=5)
    assert touched == ["audited", "broken:audited", "broken:ordinary"]


async def test_a_plugin_can_observe_a_shutdown_interrupting_a_task(app: QueueTasks) -> None:
    seen: list[str] = []
    started = anyio.Event()

    class Closing(Plugin):
        def after_attempt(self, call: TaskCall, outcome: Outcome) -> None:
            seen.append(f"{outcome.status}:{outcome.error}")

    app.add_plugin(Closing())

    @app.task
    async def endless() -> None:
        started.set()
        await anyio.sleep(60)

    async with app.running(shutdown_timeout=0.05) as worker:
        record = await app.add_task("endless")
        await started.wait()
        worker.stop()
    assert seen == ["new:interrupted by a worker shutdown"]
    again = await app.get(record.uuid)
    assert again is not None and again.status == "new"
