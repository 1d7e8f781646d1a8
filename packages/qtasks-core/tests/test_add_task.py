from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from importlib import metadata

import pytest

from qtasks import (
    BackendNotInstalledError,
    Call,
    ConfigurationError,
    TaskArgumentError,
    TaskTimeoutError,
)
from qtasks.asyncio import QueueTasks
from qtasks.discovery import KNOWN_PACKAGES
from qtasks.interfaces import Broker
from qtasks.memory import MemoryBroker, MemoryGlobalConfig, MemoryStorage

pytestmark = pytest.mark.anyio


async def test_add_task_returns_a_new_record_at_once(app: QueueTasks) -> None:
    @app.task(priority=3, queue="reports", tags=["x"])
    def report(day: str) -> str:
        return day

    task = await app.add_task("report", "mon")
    assert task.status == "new"
    assert (task.task_name, task.args, task.priority, task.queue) == (
        "report",
        ("mon",),
        3,
        "reports",
    )
    stored = await app.get(task.uuid)
    assert stored is not None and stored.status == "new" and stored == task
    assert isinstance(app.broker, MemoryBroker) and app.broker.depth("reports") == 1
    by_object = await report.add_task("tue", priority=-1, queue="urgent")
    assert (by_object.priority, by_object.queue) == (-1, "urgent")


async def test_timeout_waits_and_returns_the_final_record(app: QueueTasks) -> None:
    @app.task
    async def add(a: int, b: int) -> int:
        return a + b

    async with app.running(concurrency=2):
        done = await app.add_task("add", 1, 2, timeout=5)
        assert done.status == "success" and done.returning == 3
        assert done.started_at is not None and done.finished_at is not None
        assert done.created_at <= done.started_at <= done.finished_at
        queued = await add.add_task(2, 2)
        again = await queued.wait_result_async(5)
        assert again.returning == 4


async def test_waiting_runs_out_with_an_error_naming_task_and_uuid(app: QueueTasks) -> None:
    @app.task
    def slow() -> None:
        return None

    task = await app.add_task("slow")  # no worker is running
    with pytest.raises(TaskTimeoutError) as info:
        await app.add_task("slow", timeout=0.05)
    assert "'slow'" in str(info.value) and "0.05 s" in str(info.value)
    with pytest.raises(TaskTimeoutError, match=task.uuid):
        await task.wait_result_async(0.01)
    with pytest.raises(ValueError, match="timeout must be > 0"):
        await app.wait_result(task.uuid, 0)


async def test_unencodable_arguments_are_named_before_anything_is_queued(app: QueueTasks) -> None:
    @app.task
    def store(name: str, when: object, *, meta: object = None) -> None:
        return None

    with pytest.raises(TaskArgumentError) as info:
        await app.add_task("store", "a", datetime.now(timezone.utc))
    message = str(info.value)
    assert "task 'store'" in message and "'when' (position 1)" in message
    assert "datetime" in message and "JsonSerializer" in message
    assert isinstance(info.value, TypeError)
    with pytest.raises(TypeError, match="argument 'meta' of type set"):
        await app.add_task("store", "a", 1, meta={1, 2})
    with pytest.raises(TypeError, match="task 'remote': argument at position 0"):
        await app.add_task("remote", object())  # not registered here: still named
    assert len(app.storage) == 0  # type: ignore[arg-type]
    assert app.broker.depth("default") == 0  # type: ignore[attr-defined]


async def test_task_kwargs_carries_names_that_clash_with_options(app: QueueTasks) -> None:
    @app.task
    def job(priority: str, timeout: int) -> str:
        return f"{priority}/{timeout}"

    async with app.running():
        done = await app.add_task("job", task_kwargs={"priority": "p", "timeout": 3}, timeout=5)
    assert done.returning == "p/3"
    with pytest.raises(TypeError, match="given both directly and in task_kwargs"):
        await app.add_task("job", x=1, task_kwargs={"x": 2})


async def test_delay_and_eta(app: QueueTasks) -> None:
    @app.task
    def tick() -> float:
        return time.time()

    now = time.time()
    delayed = await app.add_task("tick", delay=0.2)
    assert delayed.eta is not None and delayed.eta.timestamp() >= now + 0.2
    at = datetime.now(timezone.utc) + timedelta(seconds=0.1)
    timed = await app.add_task("tick", eta=at)
    assert timed.eta == at
    epoch = await app.add_task("tick", eta=now)
    assert epoch.eta is not None
    async with app.running():
        first = await app.wait_result(delayed.uuid, 5)
        second = await app.wait_result(timed.uuid, 5)
    assert first.returning >= now + 0.19
    assert second.returning >= at.timestamp() - 0.01
    assert (await app.add_task("tick", delay=0)).eta is None


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"delay": 1, "eta": 2.0}, TypeError, "give delay= or eta=, not both"),
        ({"delay": -1}, ValueError, "delay must be a number of seconds >= 0"),
        ({"eta": datetime(2030, 1, 1)}, ValueError, "eta must be timezone-aware"),
        ({"eta": "tomorrow"}, TypeError, "eta must be a datetime or epoch seconds"),
        ({"priority": "high"}, TypeError, "priority must be an int"),
    ],
)
async def test_bad_enqueue_options(
    app: QueueTasks, options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await app.add_task("x", **options)  # type: ignore[arg-type]


async def test_add_tasks_queues_many_in_one_call(app: QueueTasks) -> None:
    @app.task
    def mul(a: int, b: int = 1) -> int:
        return a * b

    calls: list[object] = [(2, 3), [4], {"a": 5, "b": 5}, Call(6, b=7)]
    records = await app.add_tasks("mul", calls, priority=2)  # type: ignore[arg-type]
    assert [r.status for r in records] == ["new"] * 4
    assert {r.priority for r in records} == {2}
    async with app.running():
        results = [(await r.wait_result_async(5)).returning for r in records]
    assert results == [6, 4, 25, 42]
    assert await app.add_tasks("mul", []) == []
    with pytest.raises(TypeError, match="must be tuples, mappings or Call"):
        await app.add_tasks("mul", [3])  # type: ignore[list-item]
    with pytest.raises(TaskArgumentError):
        await app.add_tasks(mul, [(1,), (object(),)])
    assert repr(Call(1, b=2)) == "Call(1, b=2)"


async def test_get_unknown_is_none(app: QueueTasks) -> None:
    assert await app.get("nope") is None


async def test_components_by_url_and_install_hints() -> None:
    app = QueueTasks(broker="memory://", storage="memory://", global_config="memory://")
    assert isinstance(app.broker, MemoryBroker)
    assert isinstance(app.storage, MemoryStorage)
    assert isinstance(app.global_config, MemoryGlobalConfig)
    # every backend scheme whose package is not installed here names the package to install
    # (the core test session installs core alone, so all of them are checked there)
    for scheme, package in KNOWN_PACKAGES.items():
        if package == "qtasks-core" or _installed(package):
            continue
        with pytest.raises(BackendNotInstalledError, match=f"pip install {package}") as info:
            QueueTasks(storage=f"{scheme}://127.0.0.1:1/0")
        assert (info.value.scheme, info.value.package) == (scheme, package)
    with pytest.raises(BackendNotInstalledError, match="no QTasks package is known"):
        QueueTasks(global_config="zookeeper://x")
    with pytest.raises(ConfigurationError, match="expected a component URL"):
        QueueTasks(broker="127.0.0.1:6379")
    with pytest.raises(ConfigurationError, match="broker must be a Broker or a URL, got int"):
        QueueTasks(broker=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="app name must be a non-empty string"):
        QueueTasks("")


async def test_a_broker_can_bring_its_own_storage_and_config() -> None:
    storage, config = MemoryStorage(), MemoryGlobalConfig()

    class Bundled(MemoryBroker):
        def default_storage(self) -> MemoryStorage:
            return storage

        def default_global_config(self) -> MemoryGlobalConfig:
            return config

    app = QueueTasks("bundle", broker=Bundled())
    assert app.storage is storage and app.global_config is config
    assert storage.namespace == "bundle" and storage.serializer is app.serializer


async def test_config_and_queues(app: QueueTasks) -> None:
    @app.task(queue="mail")
    def send() -> None:
        return None

    assert app.queues == ["default", "mail"]
    config = app.config
    assert config["name"] == "test" and config["tasks"] == ["send"]
    assert config["broker"] == "MemoryBroker" and config["serializer"] == "JsonSerializer"
    with pytest.raises(TypeError):
        config["name"] = "x"  # type: ignore[index]


async def test_start_and_stop_are_idempotent(app: QueueTasks) -> None:
    calls: list[str] = []

    class Counting(MemoryBroker):
        async def start(self) -> None:
            calls.append("start")

        async def stop(self) -> None:
            calls.append("stop")
            raise RuntimeError("close failed")  # logged, not raised

    counted = QueueTasks(broker=Counting())
    async with counted:
        await counted.start()
    await counted.stop()
    assert calls == ["start", "stop"]
    assert isinstance(counted.broker, Broker)


def test_url_passwords_are_redacted() -> None:
    from qtasks.discovery import redact_url

    assert redact_url("redis://:s3cret@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact_url("amqp://guest:guest@localhost/") == "amqp://guest:***@localhost/"
    assert redact_url("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379"


async def test_headers_travel_with_the_task_and_its_retries(app: QueueTasks) -> None:
    attempts: list[int] = []

    @app.task(retry=1, retry_backoff=0)
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("first try fails")
        return "ok"

    queued = await app.add_task("flaky", headers={"schedule": "nightly", "tick": 3})
    assert queued.headers == {"schedule": "nightly", "tick": 3}
    async with app.running():
        done = await queued.wait_result_async(5)
    assert done.status == "success"
    assert done.retries == 1
    assert done.headers == {"schedule": "nightly", "tick": 3}
    with pytest.raises(TypeError, match="header 'bad'"):
        await app.add_task("flaky", headers={"bad": object()})


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


async def test_waiting_for_an_unknown_uuid_says_so_instead_of_hanging(app: QueueTasks) -> None:
    from qtasks import TaskNotFoundError

    with pytest.raises(TaskNotFoundError, match="no task nope is stored"):
        await app.wait_result("nope")  # no timeout: would otherwise wait forever
    with pytest.raises(TaskNotFoundError):
        await app.wait_result("nope", timeout=0.05)
