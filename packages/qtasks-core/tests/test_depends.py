from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

import anyio
import pytest

from qtasks import (
    AsyncTask,
    Depends,
    InjectedArgumentError,
    SyncTaskContext,
    TaskContext,
    TaskDefinitionError,
)
from qtasks.asyncio import QueueTasks

pytestmark = pytest.mark.anyio


class Resource:
    """A value with a lifetime, so tests can see when it was opened and closed."""

    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal
        self.closed = False
        journal.append(f"open {name}")

    def close(self, how: str = "") -> None:
        self.closed = True
        self.journal.append(f"close {self.name}{how}")


async def test_function_providers_fill_parameters_that_callers_never_pass(
    app: QueueTasks,
) -> None:
    loop_thread = threading.get_ident()

    def settings() -> dict[str, Any]:
        return {"thread": threading.get_ident(), "prefix": "hi"}

    async def greeting(conf: Annotated[dict[str, Any], Depends(settings)]) -> str:
        return f"{conf['prefix']} there"

    @app.task
    async def job(
        name: str,
        conf: dict[str, Any] = Depends(settings),
        text: str = Depends(greeting),
    ) -> dict[str, Any]:
        return {"name": name, "text": text, "thread": conf["thread"]}

    async with app.running():
        done = await app.add_task("job", "ann", timeout=5)
    assert done.returning["name"] == "ann" and done.returning["text"] == "hi there"
    assert done.returning["thread"] != loop_thread  # sync providers run in a worker thread
    assert done.args == ("ann",) and done.kwargs == {}  # injected values are never stored
    with pytest.raises(InjectedArgumentError, match="'conf' filled in by the worker"):
        await app.add_task("job", "ann", conf={})
    assert job.definition.injected == {"conf", "text"}


async def test_generators_and_context_managers_are_torn_down_after_the_call(
    app: QueueTasks,
) -> None:
    journal: list[str] = []

    def sync_gen() -> Iterator[Resource]:
        resource = Resource("sync-gen", journal)
        yield resource
        resource.close()  # runs whether or not the task failed: no try/finally needed

    async def async_gen() -> AsyncIterator[Resource]:
        resource = Resource("async-gen", journal)
        yield resource
        resource.close()

    @contextmanager
    def sync_cm() -> Iterator[Resource]:
        resource = Resource("sync-cm", journal)
        yield resource
        resource.close()

    @asynccontextmanager
    async def async_cm() -> AsyncIterator[Resource]:
        resource = Resource("async-cm", journal)
        yield resource
        resource.close()

    class Managed:
        def __init__(self) -> None:
            self.resource = Resource("class-cm", journal)

        async def __aenter__(self) -> Resource:
            return self.resource

        async def __aexit__(self, *exc: object) -> None:
            self.resource.close()

    @app.task
    async def uses(
        fail: bool,
        *,
        a: Resource = Depends(sync_gen),
        b: Resource = Depends(async_gen),
        c: Resource = Depends(sync_cm),
        d: Resource = Depends(async_cm),
        e: Resource = Depends(Managed),
    ) -> list[bool]:
        journal.append("run")
        if fail:
            raise ZeroDivisionError("on purpose")
        return [r.closed for r in (a, b, c, d, e)]

    async with app.running():
        done = await app.add_task("uses", fail=False, timeout=5)
        assert done.returning == [False] * 5
        opened = [f"open {n}" for n in ("sync-gen", "async-gen", "sync-cm", "async-cm", "class-cm")]
        closed = [
            f"close {n}" for n in ("class-cm", "async-cm", "sync-cm", "async-gen", "sync-gen")
        ]
        assert journal == [*opened, "run", *closed]  # newest first
        journal.clear()
        failed = await app.add_task("uses", fail=True, timeout=5)
    assert failed.status == "error"
    assert journal == [*opened, "run", *closed]


async def test_a_graph_is_resolved_once_per_call_and_apart_for_concurrent_calls(
    app: QueueTasks,
) -> None:
    made: list[int] = []
    journal: list[str] = []

    async def counter() -> AsyncIterator[Resource]:
        resource = Resource(f"counter{len(made)}", journal)
        made.append(1)
        yield resource
        resource.close()

    def left(c: Resource = Depends(counter)) -> Resource:
        return c

    async def right(c: Annotated[Resource, Depends(counter)]) -> Resource:
        return c

    @app.task
    async def diamond(
        i: int, a: Resource = Depends(left), b: Resource = Depends(right)
    ) -> dict[str, Any]:
        assert a is b  # one value per call, shared inside the graph
        await anyio.sleep(0.01 * (i % 3))
        return {"name": a.name, "closed_while_running": a.closed}

    async with app.running(concurrency=10):
        records = await app.add_tasks("diamond", [(i,) for i in range(10)])
        done = [await r.wait_result_async(5) for r in records]
    assert all(d.status == "success" for d in done), [d.error for d in done]
    assert not any(d.returning["closed_while_running"] for d in done)
    assert len(made) == 10 and len({d.returning["name"] for d in done}) == 10
    assert sum(1 for line in journal if line.startswith("close")) == 10


async def test_longer_scopes_are_shared_and_torn_down_with_their_owner_in_reverse(
    app: QueueTasks,
) -> None:
    journal: list[str] = []
    gate = anyio.Lock()

    def provider(name: str) -> Any:
        async def make() -> AsyncIterator[Resource]:
            async with gate:
                await anyio.sleep(0.01)  # slow creation: concurrent first uses must not race
            resource = Resource(name, journal)
            yield resource
            resource.close()

        make.__qualname__ = name
        return make

    config_scoped = provider("config")
    storage_scoped = provider("storage")
    broker_scoped = provider("broker")
    worker_a = provider("worker-a")
    worker_b = provider("worker-b")

    @app.task
    async def job(
        w1: Resource = Depends(worker_a, scope="worker"),
        w2: Resource = Depends(worker_b, scope="worker"),
        b: Resource = Depends(broker_scoped, scope="broker"),
        s: Resource = Depends(storage_scoped, scope="storage"),
        g: Resource = Depends(config_scoped, scope="global_config"),
    ) -> list[int]:
        return [id(r) for r in (w1, w2, b, s, g)]

    async with app.running(concurrency=5):
        records = await app.add_tasks("job", [() for _ in range(5)])
        done = [await r.wait_result_async(5) for r in records]
        assert len({tuple(d.returning) for d in done}) == 1  # one value per scope
    assert journal == [
        "open worker-a",
        "open worker-b",
        "open broker",
        "open storage",
        "open config",
        # worker scope ends with the worker, newest first; then the app stops the broker,
        # the storage and the global config, each taking its values with it.
        "close worker-b",
        "close worker-a",
        "close broker",
        "close storage",
        "close config",
    ]
    journal.clear()
    async with app.running():
        await app.add_task("job", timeout=5)
    assert journal[:2] == ["open worker-a", "open worker-b"]  # a new worker, new values


async def test_cycles_are_refused_at_registration_naming_the_cycle(app: QueueTasks) -> None:
    def first(x: Annotated[int, Depends(second)]) -> int:
        return x

    def second(y: Annotated[int, Depends(third)]) -> int:
        return y

    def third(z: Annotated[int, Depends(first)]) -> int:
        return z

    with pytest.raises(TaskDefinitionError) as caught:

        @app.task
        def looping(v: Annotated[int, Depends(first)]) -> int:
            return v

    message = str(caught.value)
    assert "task 'looping': Depends cycle:" in message
    assert "first -> " in message and "second -> " in message and "third -> " in message
    assert "looping" not in app.registry


async def test_graphs_that_cannot_work_are_refused_at_registration(app: QueueTasks) -> None:
    def per_task() -> int:
        return 1

    def per_worker(v: int = Depends(per_task)) -> int:
        return v

    def needs_context(ctx: TaskContext) -> str:
        return ctx.task_uuid

    def unfillable(value: int) -> int:
        return value

    cases: list[tuple[Any, str]] = []

    async def widening(v: int = Depends(per_worker, scope="worker")) -> None:
        return None

    cases.append((widening, "depends on per_task (scope 'task'), which ends sooner"))

    async def context_in_worker(v: str = Depends(needs_context, scope="broker")) -> None:
        return None

    cases.append((context_in_worker, "depends on TaskContext (scope 'task')"))

    async def missing(v: int = Depends(unfillable)) -> None:
        return None

    cases.append((missing, "parameter 'value' that nothing fills"))

    async def positional_only(ctx: TaskContext, /) -> None:
        return None

    cases.append((positional_only, "cannot be positional-only"))

    def sync_wants_async(ctx: TaskContext) -> None:
        return None

    cases.append((sync_wants_async, "annotate SyncTaskContext instead of TaskContext"))

    async def async_wants_sync(ctx: SyncTaskContext) -> None:
        return None

    cases.append((async_wants_sync, "annotate TaskContext instead of SyncTaskContext"))

    async def via_provider(v: str = Depends(needs_context)) -> None:
        return None

    def sync_via_provider(v: str = Depends(needs_context)) -> None:
        return None

    cases.append((sync_via_provider, "annotate SyncTaskContext instead of TaskContext"))

    async def bare(v=Depends()) -> None:  # type: ignore[no-untyped-def]
        return None

    cases.append((bare, "Depends() without a provider needs a class annotation"))

    for func, expected in cases:
        with pytest.raises(
            TaskDefinitionError, match=expected.replace("(", r"\(").replace(")", r"\)")
        ):
            app.task(func)
    app.task(via_provider)  # fine: an async task gets a TaskContext


async def test_the_context_and_positional_layout(app: QueueTasks) -> None:
    @app.task
    async def middle(x: int, ctx: TaskContext, y: int, *rest: int) -> list[Any]:
        return [x, ctx.task_name, y, list(rest)]

    @app.task
    def sync_ctx(x: int, ctx: SyncTaskContext) -> list[Any]:
        return [x, ctx.task_uuid]

    @app.task(echo=True)
    async def echoed(self: AsyncTask[..., Any], ctx: TaskContext, x: int = 0) -> list[Any]:
        return [self.name, ctx is self.ctx, x]

    class Settings:
        def __init__(self) -> None:
            self.level = "debug"

    @app.task
    async def by_annotation(s: Annotated[Settings, Depends()]) -> str:
        return s.level

    async with app.running():
        assert (await app.add_task("middle", 1, 2, 3, 4, timeout=5)).returning == [
            1,
            "middle",
            2,
            [3, 4],
        ]
        assert (await app.add_task("middle", 1, y=2, timeout=5)).returning == [1, "middle", 2, []]
        assert (await app.add_task("middle", x=1, y=2, timeout=5)).returning[:3] == [1, "middle", 2]
        done = await app.add_task("sync_ctx", 5, timeout=5)
        assert done.returning == [5, done.uuid]
        assert (await app.add_task("echoed", x=3, timeout=5)).returning == ["echoed", True, 3]
        assert (await app.add_task("by_annotation", timeout=5)).returning == "debug"
    assert middle.definition.argument_label(1) == "'y' (position 1)"


async def test_failing_providers_fail_the_attempt_and_are_retried(app: QueueTasks) -> None:
    journal: list[str] = []
    attempts: list[int] = []

    async def opened() -> AsyncIterator[Resource]:
        resource = Resource("ok", journal)
        yield resource
        resource.close()

    async def flaky(ctx: TaskContext) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("database is down")
        return "connected"

    @app.task(retry=1, retry_backoff=0)
    async def job(first: Resource = Depends(opened), db: str = Depends(flaky)) -> str:
        return db

    async with app.running():
        done = await app.add_task("job", timeout=5)
    assert done.status == "success" and done.returning == "connected"
    assert attempts == [1, 2]
    assert done.attempts[0].error == (
        "DependencyError: dependency flaky of task 'job' failed: ConnectionError: database is down"
    )
    assert journal == ["open ok", "close ok", "open ok", "close ok"]  # torn down both times


async def test_overrides_replace_providers_for_tests(app: QueueTasks) -> None:
    def real_db() -> str:
        raise AssertionError("the real database must not be touched")

    def fake_name() -> str:
        return "fake"

    async def fake_db(name: str = Depends(fake_name, scope="worker")) -> str:
        return f"{name} db"

    @app.task
    async def job(db: str = Depends(real_db, scope="worker")) -> str:
        return db

    app.dependency_overrides[real_db] = fake_db
    async with app.running():
        assert (await app.add_task("job", timeout=5)).returning == "fake db"

    def loops(x: Annotated[str, Depends(real_db, scope="worker")]) -> str:
        return x

    app.dependency_overrides[real_db] = loops  # real_db -> loops -> real_db
    async with app.running():
        broken = await app.add_task("job", timeout=5)
    assert broken.status == "error"
    assert "DependencyError: dependency real_db of task 'job' failed: GraphError" in (
        broken.error or ""
    )
    assert "Depends cycle through dependency_overrides: real_db -> real_db" in (broken.error or "")


async def test_a_failing_teardown_is_logged_and_the_rest_still_close(
    app: QueueTasks, caplog: pytest.LogCaptureFixture
) -> None:
    journal: list[str] = []

    def solid() -> Iterator[Resource]:
        resource = Resource("solid", journal)
        yield resource
        resource.close()

    async def fragile() -> AsyncIterator[str]:
        yield "fragile"
        raise RuntimeError("teardown broke")

    @app.task
    async def job(a: Resource = Depends(solid), b: str = Depends(fragile)) -> str:
        return b

    async with app.running():
        done = await app.add_task("job", timeout=5)
    assert done.status == "success"
    assert journal == ["open solid", "close solid"]
    assert "teardown of dependency fragile failed" in caplog.text


def test_depends_checks_its_arguments() -> None:
    from qtasks import ConfigurationError

    def settings() -> int:
        return 1

    with pytest.raises(ConfigurationError, match="takes a callable that provides the value"):
        Depends(5)
    with pytest.raises(ConfigurationError, match="scope must be one of task, worker, broker"):
        Depends(settings, scope="process")  # type: ignore[arg-type]
    assert repr(Depends(settings, scope="worker")) == (
        "Depends(test_depends_checks_its_arguments.<locals>.settings, scope='worker')"
    )


def test_module_level_tasks_resolve_string_annotations_from_their_globals() -> None:
    import textwrap
    import types

    source = textwrap.dedent(
        """
        from __future__ import annotations
        from typing import Annotated
        from qtasks import Depends
        from qtasks.asyncio import QueueTasks

        app = QueueTasks("module-level")

        def number() -> int:
            return 7

        @app.task
        async def job(n: Annotated[int, Depends(number)], missing: NotDefinedAnywhere = 1) -> int:
            return n
        """
    )
    module = types.ModuleType("module_level_tasks")
    exec(compile(source, "<module_level_tasks>", "exec"), module.__dict__)
    definition = module.app.registry.require("job")
    assert definition.injected == {"n"} and definition.namespace is None
