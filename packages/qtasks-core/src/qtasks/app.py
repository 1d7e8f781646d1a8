"""The sync app: blocking calls for scripts, Flask and Django, over the one async core.

Nothing here reimplements queueing. The sync app owns an async ``QueueTasks`` (``app.aio``)
and a private event loop in a daemon thread (an anyio blocking portal) where that core and
its components live; every method hands its call to that loop and waits. Signals are caught
in the main thread and forwarded to the worker on the loop thread.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from functools import partial
from types import FrameType, TracebackType
from typing import Any, TypeVar, overload

import anyio.to_thread
from anyio.from_thread import BlockingPortal
from typing_extensions import ParamSpec, Unpack

from qtasks._loop_thread import LoopThread
from qtasks._namespace import caller_namespace
from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.bound import SyncTask, _BoundTask
from qtasks.call import Call
from qtasks.definition import TaskOptions
from qtasks.events import Events
from qtasks.interfaces.broker import Broker
from qtasks.interfaces.global_config import GlobalConfig
from qtasks.interfaces.storage import Storage
from qtasks.interfaces.worker import Worker
from qtasks.middleware import TaskMiddleware
from qtasks.plugins import Plugin, Plugins
from qtasks.registry import TaskRegistry
from qtasks.task import Task

__all__ = ["QueueTasks"]

logger = logging.getLogger("qtasks")

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class QueueTasks:
    """A QueueTasks app with a blocking API; accepts the same arguments as the async app.

    ``app.aio`` is the async app underneath, for code that wants to await.
    """

    def __init__(self, name: str = "qtasks", **options: Any) -> None:
        self.aio = AsyncQueueTasks(name, **options)
        self._lock = threading.Lock()
        self._loop: LoopThread | None = None
        self._loop_thread: int | None = None
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- the parts of the async app people reach for ----------------------------------------

    @property
    def name(self) -> str:
        """The app name (the namespace of its queues and keys)."""
        return self.aio.name

    @property
    def broker(self) -> Broker:
        """The broker component."""
        return self.aio.broker

    @property
    def storage(self) -> Storage:
        """The storage component."""
        return self.aio.storage

    @property
    def global_config(self) -> GlobalConfig:
        """The global config component."""
        return self.aio.global_config

    @property
    def registry(self) -> TaskRegistry:
        """Registered tasks."""
        return self.aio.registry

    @property
    def config(self) -> Mapping[str, Any]:
        """The app's settings."""
        return self.aio.config

    @property
    def plugins(self) -> Plugins:
        """The app's plugins (built-ins first)."""
        return self.aio.plugins

    @property
    def events(self) -> Events:
        """Lifecycle callbacks: ``@app.events.on.starting()``, ``.task_success()``, ..."""
        return self.aio.events

    @property
    def dependency_overrides(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        """``{provider: replacement}`` for ``Depends`` (for tests)."""
        return self.aio.dependency_overrides

    def add_plugin(self, plugin: Plugin) -> None:
        """Add a plugin; see the async app's ``add_plugin``."""
        self.aio.add_plugin(plugin)

    def remove_plugin(self, plugin: Plugin | type[Plugin]) -> Plugin:
        """Remove a plugin (or the first of a class)."""
        return self.aio.remove_plugin(plugin)

    def add_middleware(self, middleware: TaskMiddleware) -> None:
        """Wrap every task's execution in ``middleware``."""
        self.aio.add_middleware(middleware)

    # -- the loop thread ---------------------------------------------------------------------

    def _ensure_portal(self) -> BlockingPortal:
        loop = self._loop
        if loop is not None:
            return loop.portal
        with self._lock:
            if self._loop is None:
                self._loop = LoopThread(f"qtasks-{self.aio.name}-loop")
                self._loop_thread = self._loop.ident
            return self._loop.portal

    @property
    def is_open(self) -> bool:
        """Whether the private loop thread is running (it starts on first use)."""
        return self._loop is not None

    def call(self, func: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine function on the app's loop and return its result (blocking)."""
        portal = self._ensure_portal()
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(
                "the sync QueueTasks API blocks, so it cannot be used on its own event loop "
                "(inside an async task or hook); await app.aio.<method>(...) there instead"
            )
        return portal.call(func)

    def close(self) -> None:
        """Stop the components and the loop thread; the app can be used again afterwards."""
        with self._lock:
            loop, self._loop = self._loop, None
            self._loop_thread = None
        if loop is None:
            return
        try:
            loop.portal.call(self.aio.stop)
        finally:
            loop.stop()

    def __enter__(self) -> QueueTasks:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- registration ------------------------------------------------------------------------

    @overload
    def task(self, func: Callable[P, R], /) -> SyncTask[P, R]: ...

    @overload
    def task(
        self, func: None = None, /, **options: Unpack[TaskOptions]
    ) -> Callable[[Callable[P, R]], SyncTask[P, R]]: ...

    def task(
        self, func: Callable[P, R] | None = None, /, **options: Unpack[TaskOptions]
    ) -> SyncTask[P, R] | Callable[[Callable[P, R]], SyncTask[P, R]]:
        """Register a task; the same options as the async app's ``task``."""

        def register(f: Callable[P, R]) -> SyncTask[P, R]:
            definition = self.aio.define(f, options, caller_namespace())
            return SyncTask(definition, self.aio, self._run_for_task)

        return register(func) if func is not None else register

    def _run_for_task(self, func: Callable[[], Coroutine[Any, Any, Task]]) -> Task:
        return self.call(func).with_waiter(self)

    # -- producing and results ---------------------------------------------------------------

    def add_task(self, task: str | _BoundTask[Any, Any], /, *args: Any, **options: Any) -> Task:
        """Queue a task; see the async ``add_task`` for the options (``timeout=`` waits)."""
        return self.call(partial(self.aio.add_task, task, *args, **options)).with_waiter(self)

    def add_tasks(
        self,
        task: str | _BoundTask[Any, Any],
        calls: Iterable[tuple[Any, ...] | list[Any] | Mapping[str, Any] | Call],
        /,
        **options: Any,
    ) -> list[Task]:
        """Queue many tasks in one round trip; see the async ``add_tasks``."""
        records = self.call(partial(self.aio.add_tasks, task, list(calls), **options))
        return [r.with_waiter(self) for r in records]

    def get(self, uuid: str) -> Task | None:
        """Return the stored record of ``uuid`` or ``None``."""
        record = self.call(partial(self.aio.get, uuid))
        return None if record is None else record.with_waiter(self)

    def wait_result(self, uuid: str, timeout: float | None = None) -> Task:
        """Block until ``uuid`` is final and return its record; ``TaskTimeoutError`` on timeout."""
        return self.call(partial(self.aio.wait_result, uuid, timeout)).with_waiter(self)

    def block_until_final(self, uuid: str, timeout: float | None) -> Task:
        """``ResultWaiter``: what ``Task.wait_result`` calls."""
        return self.wait_result(uuid, timeout)

    async def await_final(self, uuid: str, timeout: float | None) -> Task:
        """``ResultWaiter``: ``Task.wait_result_async`` from any event loop."""
        if threading.get_ident() == self._loop_thread:
            return (await self.aio.wait_result(uuid, timeout)).with_waiter(self)
        return await anyio.to_thread.run_sync(self.wait_result, uuid, timeout)

    def requeue_dead(self, queue: str | None = None, limit: int | None = None) -> int:
        """Send dead-lettered tasks back to run again; see the async ``requeue_dead``."""
        return self.call(partial(self.aio.requeue_dead, queue, limit))

    def cancel(self, uuid: str, reason: str = "") -> bool:
        """Cancel a queued or running task; see the async ``cancel``."""
        return self.call(partial(self.aio.cancel, uuid, reason))

    # -- serving -----------------------------------------------------------------------------

    def run_forever(
        self,
        *,
        concurrency: int | None = None,
        queues: list[str] | None = None,
        **worker_options: Any,
    ) -> None:
        """Run a worker until SIGINT/SIGTERM (first: drain gracefully; second: stop at once)."""
        worker = self.aio.make_worker(
            {"concurrency": concurrency, "queues": queues, **worker_options}
        )
        portal = self._ensure_portal()
        # Handlers go in before the worker starts, so no signal can slip past them.
        with _forward_signals(portal, worker):
            future, _ = portal.start_task(partial(self.aio.serve_worker, worker))
            while True:  # wake now and then: a signal handler runs only between waits
                try:
                    future.result(timeout=0.5)
                except FutureTimeout:
                    continue
                break

    @contextmanager
    def running(
        self,
        *,
        concurrency: int | None = None,
        queues: list[str] | None = None,
        **worker_options: Any,
    ) -> Iterator[Worker]:
        """Run a worker on the app's loop thread for the ``with`` body, then drain it."""
        worker = self.aio.make_worker(
            {"concurrency": concurrency, "queues": queues, **worker_options}
        )
        portal = self._ensure_portal()
        future, _ = portal.start_task(partial(self.aio.serve_worker, worker))
        try:
            yield worker
        finally:
            portal.call(partial(_stop, worker, graceful=True))
            future.result()


def _close_at_exit(ref: weakref.ReferenceType[QueueTasks]) -> None:
    app = ref()
    if app is not None:
        try:
            app.close()
        except Exception:
            logger.exception("closing the QueueTasks app at exit failed")


@contextmanager
def _forward_signals(portal: BlockingPortal, worker: Worker) -> Iterator[None]:
    """Catch SIGINT/SIGTERM in the main thread and stop the worker on the loop thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = 0

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        from qtasks._signals import log_signal  # noqa: PLC0415 - shared wording

        log_signal(signum, received)
        portal.start_task_soon(partial(_stop, worker, graceful=received == 1))

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def _stop(worker: Worker, *, graceful: bool) -> None:
    worker.stop(graceful=graceful)
