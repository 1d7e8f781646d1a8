"""AsyncTestCase and SyncTestCase: an app on fresh in-memory components for one test.

``async with AsyncTestCase(app) as case:`` (or ``with SyncTestCase(app) as case:``) swaps the
app's broker, storage and global config for in-memory ones, and puts the originals back on
exit, along with ``app.dependency_overrides``. Inside, ``case.add_task(...)`` runs a task
eagerly and returns its finished record; ``case.worker()`` runs a real worker in this process
and ``case.wait_until_idle()`` waits for it to finish everything; ``case.queued`` and the
``assert_*`` helpers check what was queued and how tasks ended.

SyncTestCase is the same thing for blocking code: it drives an AsyncTestCase on the app's
event loop thread (a sync app's own, or a private one for an async app).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from anyio.from_thread import BlockingPortal, start_blocking_portal
from typing_extensions import Self

from qtasks.app import QueueTasks as SyncQueueTasks
from qtasks.asyncio import QueueTasks
from qtasks.bound import _BoundTask
from qtasks.memory import MemoryGlobalConfig, MemoryStorage
from qtasks.plugins.base import Plugin
from qtasks.task import Task, TaskStatus
from qtasks.testing._broker import CaseBroker
from qtasks.testing._eager import EagerRunner

if TYPE_CHECKING:
    from qtasks.interfaces.worker import Worker

__all__ = ["AsyncTestCase", "SyncTestCase"]

T = TypeVar("T")
AnyApp = QueueTasks | SyncQueueTasks
TaskRef = str | _BoundTask[Any, Any]


class _Recorder(Plugin):
    """Keeps a copy of every record queued while a case is open."""

    name = "qtasks-testing"

    def __init__(self) -> None:
        self.queued: list[Task] = []

    def after_add_task(self, task: Task) -> None:
        """Remember the record as the producer saw it."""
        self.queued.append(task.copy())


def _name(task: TaskRef | Task) -> str:
    if isinstance(task, Task):
        return task.task_name
    return task if isinstance(task, str) else task.name


class AsyncTestCase:
    """An async app on fresh in-memory components; see the module docstring.

    Works with a sync app too (its async core, ``app.aio``, is used).
    """

    def __init__(self, app: AnyApp) -> None:
        self.app: QueueTasks = app.aio if isinstance(app, SyncQueueTasks) else app
        self._saved: tuple[Any, ...] | None = None
        self._recorder = _Recorder()
        self._eager: EagerRunner | None = None
        self._broker: CaseBroker | None = None

    # -- entering and leaving ----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.open()
        await self.app.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def open(self) -> None:
        """Swap the components in (``__aenter__`` does this and starts them)."""
        if self._saved is not None:
            raise RuntimeError("this test case is already open")
        app = self.app
        self._saved = (
            app.broker,
            app.storage,
            app.global_config,
            app._started,
            dict(app.dependency_overrides),
        )
        broker = CaseBroker()
        storage = MemoryStorage(result_ttl=None)
        config = MemoryGlobalConfig()
        for component in (broker, storage, config):
            component.bind(app.name, app.serializer)
        app.broker, app.storage, app.global_config = broker, storage, config
        app._started = False
        self._broker = broker
        self._recorder = _Recorder()
        app.add_plugin(self._recorder)
        self._eager = EagerRunner(app)

    async def close(self) -> None:
        """Stop the in-memory components and put the app back as it was."""
        if self._saved is None:
            return
        app = self.app
        try:
            with anyio.CancelScope(shield=True):
                try:
                    if self._eager is not None:
                        await self._eager.close()
                finally:
                    await app.stop()
        finally:
            broker, storage, config, started, overrides = self._saved
            self._saved = None
            app.broker, app.storage, app.global_config = broker, storage, config
            app._started = started
            app.dependency_overrides.clear()
            app.dependency_overrides.update(overrides)
            if self._recorder in app.plugins:
                app.remove_plugin(self._recorder)

    @property
    def broker(self) -> CaseBroker:
        """The in-memory broker swapped in."""
        if self._broker is None or self._saved is None:
            raise RuntimeError("open the test case first: async with AsyncTestCase(app) as case")
        return self._broker

    def _runner(self) -> EagerRunner:
        if self._eager is None or self._saved is None:
            raise RuntimeError("open the test case first: async with AsyncTestCase(app) as case")
        return self._eager

    # -- running -----------------------------------------------------------------------------

    async def add_task(self, task: TaskRef, /, *args: Any, **options: Any) -> Task:
        """Queue a task like ``app.add_task`` and run it now; return its final record.

        Retries run at once. Tasks it queues are only queued (see ``run_queued``).
        """
        options.pop("timeout", None)  # the record returned is final anyway
        runner = self._runner()
        record = await self.app.add_task(task, *args, **options)
        message = self.broker.take(record.uuid)
        if message is None:  # already settled, e.g. cancelled by a plugin
            return await self._final(record.uuid)
        return await runner.run(message)

    async def enqueue(self, task: TaskRef, /, *args: Any, **options: Any) -> Task:
        """Queue a task without running it (``app.add_task``)."""
        return await self.app.add_task(task, *args, **options)

    async def run(self, task: Task | str) -> Task:
        """Run one queued task now (by record or uuid); return its final record."""
        runner = self._runner()
        uuid = task if isinstance(task, str) else task.uuid
        message = self.broker.take(uuid)
        if message is None:
            raise LookupError(f"task {uuid} is not waiting in a queue")
        return await runner.run(message)

    async def run_queued(self, *, limit: int = 1000) -> list[Task]:
        """Run everything queued, including what those tasks queue, until nothing is left.

        Delays and etas are ignored. Returns the final records in the order they ran;
        ``limit`` stops a task that keeps queueing more.
        """
        runner = self._runner()
        done: list[Task] = []
        while pending := self.broker.pending():
            if len(done) >= limit:
                raise RuntimeError(
                    f"run_queued ran {limit} tasks and more keep coming; raise limit= or check "
                    "for a task that queues itself forever"
                )
            message = self.broker.take(pending[0].uuid)
            assert message is not None
            done.append(await runner.run(message))
        return done

    @asynccontextmanager
    async def worker(self, **options: Any) -> AsyncIterator[Worker]:
        """Run a real worker in this event loop for the ``async with`` body."""
        self._runner()
        async with self.app.running(**options) as worker:
            yield worker

    async def wait_until_idle(self, timeout: float = 10.0) -> None:
        """Wait until no task is waiting or running (delayed ones count as waiting)."""
        broker = self.broker
        with anyio.move_on_after(timeout) as scope:
            while not broker.idle:
                await broker.moved.wait()
        if scope.cancelled_caught:
            raise TimeoutError(
                f"still busy after {timeout:g} s: {len(broker.pending())} task(s) queued, "
                f"{broker.in_flight} running; is a worker running (async with case.worker())? "
                "Without one, case.run_queued() runs them"
            )

    # -- looking -----------------------------------------------------------------------------

    @property
    def queued(self) -> list[Task]:
        """Every task queued while the case was open (records as the producer got them)."""
        return list(self._recorder.queued)

    def assert_queued(self, task: TaskRef, /, *args: Any, **kwargs: Any) -> Task:
        """Assert that ``task`` was queued (with these arguments, if given); return the last."""
        name = _name(task)
        same_name = [t for t in self._recorder.queued if t.task_name == name]
        matches = [
            t
            for t in same_name
            if (not args or t.args == args) and (not kwargs or t.kwargs == kwargs)
        ]
        if not matches:
            seen = ", ".join(f"{t.task_name}{t.args}{t.kwargs or ''}" for t in self.queued)
            wanted = f"{name}{args}{kwargs or ''}" if args or kwargs else name
            raise AssertionError(f"{wanted} was not queued; queued: {seen or '(nothing)'}")
        return matches[-1]

    def assert_not_queued(self, task: TaskRef, /) -> None:
        """Assert that no ``task`` was queued."""
        name = _name(task)
        found = [t for t in self._recorder.queued if t.task_name == name]
        if found:
            raise AssertionError(f"{name} was queued {len(found)} time(s): {found}")

    async def get(self, uuid: str) -> Task | None:
        """The stored record of ``uuid``."""
        return await self.app.get(uuid)

    async def _final(self, uuid: str) -> Task:
        record = await self.app.get(uuid)
        if record is None:
            raise AssertionError(f"task {uuid} has no stored record")
        return record

    async def assert_status(self, task: Task | str, status: TaskStatus | str) -> Task:
        """Assert the stored status of ``task``; return the stored record."""
        record = await self._final(task if isinstance(task, str) else task.uuid)
        if record.status != TaskStatus(status):
            detail = f": {record.error}" if record.error else ""
            raise AssertionError(
                f"task {record.task_name} ({record.uuid}) is {record.status}, expected "
                f"{TaskStatus(status)}{detail}"
            )
        return record

    async def assert_success(self, task: Task | str, *expected: Any) -> Any:
        """Assert that ``task`` succeeded (with result ``expected``, if given); return it."""
        record = await self._final(task if isinstance(task, str) else task.uuid)
        if record.status is not TaskStatus.SUCCESS:
            raise AssertionError(
                f"task {record.task_name} ({record.uuid}) is {record.status}, not success: "
                f"{record.error or record.cancel_reason}\n{record.traceback or ''}".rstrip()
            )
        if expected and record.returning != expected[0]:
            raise AssertionError(
                f"task {record.task_name} returned {record.returning!r}, expected {expected[0]!r}"
            )
        return record.returning


class SyncTestCase:
    """The blocking twin of ``AsyncTestCase``, for unittest, plain pytest, Flask, Django."""

    def __init__(self, app: AnyApp) -> None:
        self.app = app
        self.aio = AsyncTestCase(app)
        self._sync_app = app if isinstance(app, SyncQueueTasks) else None
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._close_sync_app = False

    def _call(self, func: Callable[[], Awaitable[T]]) -> T:
        if self._sync_app is not None:
            return self._sync_app.call(func)
        if self._portal is None:
            raise RuntimeError("open the test case first: with SyncTestCase(app) as case")
        return self._portal.call(func)

    def __enter__(self) -> Self:
        if self._sync_app is None:
            self._portal_cm = start_blocking_portal(name="qtasks-test-case")
            self._portal = self._portal_cm.__enter__()
        else:
            self._close_sync_app = not self._sync_app.is_open
        try:
            self._call(self.aio.__aenter__)
        except BaseException:
            self._leave()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._call(self.aio.close)
        finally:
            self._leave()

    def _leave(self) -> None:
        if self._portal_cm is not None:
            cm, self._portal_cm, self._portal = self._portal_cm, None, None
            cm.__exit__(None, None, None)
        elif self._sync_app is not None and self._close_sync_app:
            self._close_sync_app = False
            self._sync_app.close()

    @property
    def broker(self) -> CaseBroker:
        """The in-memory broker swapped in."""
        return self.aio.broker

    def add_task(self, task: TaskRef, /, *args: Any, **options: Any) -> Task:
        """Queue a task and run it now; return its final record (see ``AsyncTestCase``)."""
        return self._waiting(self._call(partial(self.aio.add_task, task, *args, **options)))

    def enqueue(self, task: TaskRef, /, *args: Any, **options: Any) -> Task:
        """Queue a task without running it."""
        return self._waiting(self._call(partial(self.aio.enqueue, task, *args, **options)))

    def run(self, task: Task | str) -> Task:
        """Run one queued task now; return its final record."""
        return self._waiting(self._call(partial(self.aio.run, task)))

    def run_queued(self, *, limit: int = 1000) -> list[Task]:
        """Run everything queued until nothing is left; see ``AsyncTestCase.run_queued``."""
        return [self._waiting(t) for t in self._call(partial(self.aio.run_queued, limit=limit))]

    @contextmanager
    def worker(self, **options: Any) -> Iterator[Worker]:
        """Run a real worker on the case's event loop thread for the ``with`` body."""
        self.aio._runner()
        if self._sync_app is not None:
            with self._sync_app.running(**options) as worker:
                yield worker
            return
        assert self._portal is not None
        future, worker = self._portal.start_task(partial(self.aio.app.serve, **options))
        try:
            yield worker
        finally:
            self._portal.call(partial(worker.stop))
            future.result()

    def wait_until_idle(self, timeout: float = 10.0) -> None:
        """Block until no task is waiting or running."""
        self._call(partial(self.aio.wait_until_idle, timeout))

    @property
    def queued(self) -> list[Task]:
        """Every task queued while the case was open."""
        return self.aio.queued

    def assert_queued(self, task: TaskRef, /, *args: Any, **kwargs: Any) -> Task:
        """Assert that ``task`` was queued (with these arguments, if given); return the last."""
        return self.aio.assert_queued(task, *args, **kwargs)

    def assert_not_queued(self, task: TaskRef, /) -> None:
        """Assert that no ``task`` was queued."""
        self.aio.assert_not_queued(task)

    def get(self, uuid: str) -> Task | None:
        """The stored record of ``uuid``."""
        record = self._call(partial(self.aio.get, uuid))
        return None if record is None else self._waiting(record)

    def assert_status(self, task: Task | str, status: TaskStatus | str) -> Task:
        """Assert the stored status of ``task``; return the stored record."""
        return self._waiting(self._call(partial(self.aio.assert_status, task, status)))

    def assert_success(self, task: Task | str, *expected: Any) -> Any:
        """Assert that ``task`` succeeded (with result ``expected``, if given); return it."""
        return self._call(partial(self.aio.assert_success, task, *expected))

    def _waiting(self, record: Task) -> Task:
        # Records handed to blocking code must wait by blocking: through the sync app when
        # there is one, else through this case's own loop thread.
        if self._sync_app is not None:
            return record.with_waiter(self._sync_app)
        return record.with_waiter(_PortalWaiter(self))


class _PortalWaiter:
    """Lets ``Task.wait_result()`` block on an async app driven by a SyncTestCase."""

    def __init__(self, case: SyncTestCase) -> None:
        self._case = case

    def block_until_final(self, uuid: str, timeout: float | None) -> Task:
        """Wait on the case's loop thread."""
        app = self._case.aio.app
        return self._case._call(partial(app.wait_result, uuid, timeout)).with_waiter(self)

    async def await_final(self, uuid: str, timeout: float | None) -> Task:
        """Wait from another event loop by blocking a worker thread."""
        return await anyio.to_thread.run_sync(self.block_until_final, uuid, timeout)
