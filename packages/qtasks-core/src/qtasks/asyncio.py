"""The async app: task registry, component wiring, enqueue and results.

Cancelling and requeueing live in ``_managing``, serving in ``_serving`` (mixins of the one
class). This is the one implementation; ``qtasks.QueueTasks`` (the sync app) runs it on a private
event loop thread. ``from qtasks.asyncio import QueueTasks`` gives the async app itself, for
code that already runs an event loop (FastAPI, aiohttp, scripts under ``anyio.run``).
"""

from __future__ import annotations

import logging
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar, overload

import anyio
import anyio.from_thread
from typing_extensions import ParamSpec, Unpack

from qtasks._managing import Managing
from qtasks._namespace import caller_namespace
from qtasks._producing import argument_error, due_time, merge_kwargs
from qtasks._serving import Serving
from qtasks.bound import AsyncTask, _BoundTask
from qtasks.call import Call
from qtasks.context import CURRENT_TASK
from qtasks.definition import DEFAULT_QUEUE, TaskDefinition, TaskOptions
from qtasks.discovery import load_component
from qtasks.events import Events, EventsPlugin
from qtasks.exceptions import (
    ConfigurationError,
    InjectedArgumentError,
    TaskNotFoundError,
    TaskTimeoutError,
)
from qtasks.executor.default import DefaultExecutor
from qtasks.interfaces.broker import Broker, OutgoingMessage
from qtasks.interfaces.executor import TaskExecutor
from qtasks.interfaces.global_config import GlobalConfig
from qtasks.interfaces.serializer import Serializer
from qtasks.interfaces.starter import Starter
from qtasks.interfaces.storage import Storage
from qtasks.interfaces.worker import Worker
from qtasks.memory import MemoryBroker, MemoryGlobalConfig, MemoryStorage
from qtasks.message import TaskMessage
from qtasks.middleware import TaskMiddleware
from qtasks.plugins import DependsPlugin, Plugin, Plugins, RetryPlugin
from qtasks.plugins._entry_points import entry_point_plugins as _entry_points
from qtasks.registry import TaskRegistry
from qtasks.serializers.json import JsonSerializer
from qtasks.starters.default import DefaultStarter
from qtasks.task import Task, TaskStatus

__all__ = ["ADD_TASK_OPTIONS", "QueueTasks"]

logger = logging.getLogger("qtasks")

P = ParamSpec("P")
R = TypeVar("R")

#: Keyword names ``add_task`` keeps for itself; pass task arguments with these names through
#: ``task_kwargs={...}``.
ADD_TASK_OPTIONS = frozenset(
    {"priority", "queue", "delay", "eta", "timeout", "parent_uuid", "headers", "task_kwargs"}
)


class QueueTasks(Managing, Serving):
    """An async QueueTasks app.

    Components may be objects or URLs (``broker="redis://127.0.0.1:6379/0"``); with none
    given everything is in memory. A storage or global config left out follows the broker
    when its backend provides one (a Redis broker brings Redis storage), else stays in memory.

    Every app starts with the built-in ``RetryPlugin`` and ``DependsPlugin``, then the plugins
    installed distributions declare (``entry_point_plugins``: ``None`` loads them all unless
    ``QTASKS_DISABLE_PLUGIN_AUTOLOAD`` is set, ``False`` none, a list those names), then
    ``plugins``. ``middlewares`` wrap every task's execution.
    """

    def __init__(
        self,
        name: str = "qtasks",
        *,
        broker: Broker | str | None = None,
        storage: Storage | str | None = None,
        global_config: GlobalConfig | str | None = None,
        worker: Worker | None = None,
        starter: Starter | None = None,
        executor: TaskExecutor | None = None,
        serializer: Serializer | None = None,
        default_queue: str = DEFAULT_QUEUE,
        plugins: Sequence[Plugin] = (),
        middlewares: Sequence[TaskMiddleware] = (),
        entry_point_plugins: bool | Sequence[str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"the app name must be a non-empty string, got {name!r}")
        self.name = name
        self.default_queue = default_queue
        self.serializer: Serializer = serializer or JsonSerializer()
        given_broker = self._component("broker", broker, Broker)
        self.broker: Broker = MemoryBroker() if given_broker is None else given_broker
        # Components define __len__ (an empty storage is falsy), so test for None explicitly.
        given_storage = self._component("storage", storage, Storage)
        if given_storage is None:
            given_storage = self.broker.default_storage()
        self.storage: Storage = MemoryStorage() if given_storage is None else given_storage
        given_config = self._component("global_config", global_config, GlobalConfig)
        if given_config is None:
            given_config = self.broker.default_global_config()
        self.global_config: GlobalConfig = (
            MemoryGlobalConfig() if given_config is None else given_config
        )
        for component in (self.broker, self.storage, self.global_config):
            component.bind(name, self.serializer)
        self.registry = TaskRegistry()
        self.executor: TaskExecutor = executor or DefaultExecutor()
        self.worker = worker
        self.starter: Starter = starter or DefaultStarter()
        self.current_worker: Worker | None = None
        self._started = False
        self._starting: anyio.Event | None = None
        #: ``{provider: replacement}``: what ``Depends(provider)`` calls instead (for tests).
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self.plugins = Plugins()
        self._events: Events | None = None
        self.plugins.add(RetryPlugin())
        self.plugins.add(DependsPlugin())
        for plugin in (*_entry_points(self, entry_point_plugins), *plugins):
            self.add_plugin(plugin)
        for middleware in middlewares:
            self.add_middleware(middleware)

    @staticmethod
    def _component(kind: Any, value: Any, expected: type[Any]) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return load_component(kind, value, expected)
        if not isinstance(value, expected):
            raise ConfigurationError(
                f"{kind.replace('_', ' ')} must be a {expected.__name__} or a URL, "
                f"got {type(value).__name__}"
            )
        return value

    # -- configuration -----------------------------------------------------------------------

    @property
    def queues(self) -> list[str]:
        """Every queue a registered task uses, plus the default queue."""
        return sorted({d.queue for d in self.registry} | {self.default_queue})

    @property
    def control_channel(self) -> str:
        """The global-config channel on which cancel requests reach workers."""
        return "control"

    @property
    def config(self) -> Mapping[str, Any]:
        """The app's settings as a read-only mapping (what ``ctx.get_config()`` returns)."""
        return MappingProxyType(
            {
                "name": self.name,
                "default_queue": self.default_queue,
                "queues": self.queues,
                "serializer": self.serializer.name,
                "broker": type(self.broker).__name__,
                "storage": type(self.storage).__name__,
                "global_config": type(self.global_config).__name__,
                "tasks": self.registry.names(),
            }
        )

    # -- plugins, middlewares, events --------------------------------------------------------

    def add_plugin(self, plugin: Plugin) -> None:
        """Add a plugin after the ones already there; it sees tasks registered before too."""
        self.plugins.add(plugin, self.registry)

    def remove_plugin(self, plugin: Plugin | type[Plugin]) -> Plugin:
        """Remove a plugin (or the first one of a class, such as ``RetryPlugin``)."""
        return self.plugins.remove(plugin)

    def add_middleware(self, middleware: TaskMiddleware) -> None:
        """Wrap every task's execution (inside middlewares added earlier)."""
        self.plugins.add_middleware(middleware)

    @property
    def events(self) -> Events:
        """Lifecycle callbacks: ``@app.events.on.starting()``, ``.task_success()``, ..."""
        if self._events is None:
            self._events = Events(self._events_changed)
        return self._events

    def _events_changed(self, events: Events) -> None:
        found = self.plugins.get(EventsPlugin)
        if found is None or found.events is not events:
            self.add_plugin(EventsPlugin(events))
        else:
            self.plugins.refresh()

    # -- registration ------------------------------------------------------------------------

    def define(
        self,
        func: Callable[..., Any],
        options: TaskOptions,
        namespace: dict[str, Any] | None = None,
    ) -> TaskDefinition:
        """Validate and register ``func``; shared by both apps' ``task`` decorators.

        ``namespace`` holds the names visible where the task was defined (found from the
        caller's frame when not given), so string annotations of nested functions resolve.
        """
        opts: dict[str, Any] = dict(options)
        name = opts.pop("name", None) or getattr(func, "__name__", None)
        if not name:
            raise ConfigurationError(f"{func!r} has no __name__; pass @app.task(name=...)")
        opts.setdefault("queue", self.default_queue)
        definition = TaskDefinition(name=name, func=func, **opts)
        definition.namespace = namespace if namespace is not None else caller_namespace()
        self.plugins.register(definition)
        self.registry.register(definition)
        return definition

    @overload
    def task(self, func: Callable[P, R], /) -> AsyncTask[P, R]: ...

    @overload
    def task(
        self, func: None = None, /, **options: Unpack[TaskOptions]
    ) -> Callable[[Callable[P, R]], AsyncTask[P, R]]: ...

    def task(
        self, func: Callable[P, R] | None = None, /, **options: Unpack[TaskOptions]
    ) -> AsyncTask[P, R] | Callable[[Callable[P, R]], AsyncTask[P, R]]:
        """Register a task: ``@app.task`` or ``@app.task(name=..., retry=3, ...)``."""

        def register(f: Callable[P, R]) -> AsyncTask[P, R]:
            return AsyncTask(self.define(f, options, caller_namespace()), self)

        return register(func) if func is not None else register

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start global config, storage and broker (once; later calls return at once)."""
        if self._started:
            return
        if self._starting is not None:
            await self._starting.wait()
            return
        self._starting = anyio.Event()
        try:
            for component in (self.global_config, self.storage, self.broker):
                await component.start()
            self._started = True
        finally:
            event, self._starting = self._starting, None
            event.set()

    async def stop(self) -> None:
        """Stop broker, storage and global config, in that order; errors are logged."""
        if not self._started:
            return
        self._started = False
        for component in (self.broker, self.storage, self.global_config):
            if self.plugins.on_component_stop:
                await self.plugins.notify(self.plugins.on_component_stop, component)
            try:
                await component.stop()
            except Exception:
                logger.exception("stopping %s failed", type(component).__name__)

    async def __aenter__(self) -> QueueTasks:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- producing ---------------------------------------------------------------------------

    async def add_task(
        self,
        task: str | _BoundTask[Any, Any],
        /,
        *args: Any,
        priority: int | None = None,
        queue: str | None = None,
        delay: float | None = None,
        eta: datetime | float | None = None,
        timeout: float | None = None,
        parent_uuid: str | None = None,
        headers: Mapping[str, Any] | None = None,
        task_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Task:
        """Queue a task and return its record (status new) at once.

        With ``timeout`` it waits for the task to finish and returns the final record, whatever
        its status; ``TaskTimeoutError`` if it does not finish in time. ``priority``: lower
        runs first. ``delay`` (seconds) or ``eta`` (an aware datetime or epoch seconds) make it
        due later. ``headers`` is plain data stored with the task (``Task.headers``). Task
        keyword arguments whose names clash with these options go in ``task_kwargs``.
        """
        name = task if isinstance(task, str) else task.name
        if task_kwargs:
            kwargs = merge_kwargs(name, kwargs, task_kwargs)
        message = self._message(
            name,
            args=args,
            kwargs=kwargs,
            priority=priority,
            queue=queue,
            delay=delay,
            eta=eta,
            parent_uuid=parent_uuid,
            headers=headers,
        )
        message, record, outgoing = await self._prepare(message)
        plugins = self.plugins
        await self.start()
        await self.broker.publish(self.storage, [record], [outgoing])
        if plugins.after_add_task:
            record = await plugins.replace_value(plugins.after_add_task, record, expect=Task)
        if timeout is not None:
            return await self.wait_result(message.uuid, timeout)
        return record.with_waiter(self)

    async def add_tasks(
        self,
        task: str | _BoundTask[Any, Any],
        calls: Iterable[tuple[Any, ...] | list[Any] | Mapping[str, Any] | Call],
        /,
        *,
        priority: int | None = None,
        queue: str | None = None,
        delay: float | None = None,
        eta: datetime | float | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> list[Task]:
        """Queue many tasks of one kind in one broker round trip; return their records.

        Each item is a tuple (or list) of positional arguments, a mapping of keyword arguments,
        or a ``Call(*args, **kwargs)``. Every item is validated before anything is queued.
        """
        name = task if isinstance(task, str) else task.name
        records: list[Task] = []
        messages: list[OutgoingMessage] = []
        for item in calls:
            if isinstance(item, Call):
                args, kwargs = item.args, dict(item.kwargs)
            elif isinstance(item, Mapping):
                args, kwargs = (), dict(item)
            elif isinstance(item, (tuple, list)):
                args, kwargs = tuple(item), {}
            else:
                raise TypeError(
                    f"task '{name}': add_tasks items must be tuples, mappings or Call(...), "
                    f"got {type(item).__name__}"
                )
            message = self._message(
                name,
                args=args,
                kwargs=kwargs,
                priority=priority,
                queue=queue,
                delay=delay,
                eta=eta,
                parent_uuid=None,
                headers=headers,
            )
            _, record, outgoing = await self._prepare(message)
            records.append(record.with_waiter(self))
            messages.append(outgoing)
        if messages:
            await self.start()
            await self.broker.publish(self.storage, records, messages)
            if self.plugins.after_add_task:
                records = [
                    (
                        await self.plugins.replace_value(
                            self.plugins.after_add_task, record, expect=Task
                        )
                    ).with_waiter(self)
                    for record in records
                ]
        return records

    def _message(
        self,
        name: str,
        *,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        priority: int | None,
        queue: str | None,
        delay: float | None,
        eta: datetime | float | None,
        parent_uuid: str | None,
        headers: Mapping[str, Any] | None,
    ) -> TaskMessage:
        definition = self.registry.get(name)
        if (
            definition is not None
            and definition.injected
            and not kwargs.keys().isdisjoint(definition.injected)
        ):
            raise InjectedArgumentError(name, list(kwargs.keys() & definition.injected))
        now = time.time()
        if priority is None:
            priority = definition.priority if definition is not None else 0
        elif not isinstance(priority, int) or isinstance(priority, bool):
            raise TypeError(f"task '{name}': priority must be an int, got {priority!r}")
        if queue is None:
            queue = definition.queue if definition is not None else self.default_queue
        return TaskMessage(
            uuid=str(uuid_module.uuid4()),
            task_name=name,
            args=tuple(args),
            kwargs=kwargs,
            priority=priority,
            queue=queue,
            created_at=now,
            parent_uuid=parent_uuid if parent_uuid is not None else CURRENT_TASK.get(),
            eta=due_time(name, delay, eta, now),
            headers=dict(headers) if headers else {},
        )

    async def _prepare(self, message: TaskMessage) -> tuple[TaskMessage, Task, OutgoingMessage]:
        """Encode ``message`` and make its record, through the plugins that may replace them."""
        plugins = self.plugins
        if plugins.before_add_task:
            message = await plugins.replace_value(
                plugins.before_add_task, message, expect=TaskMessage
            )
        try:
            body = message.encode(self.serializer)
        except (TypeError, ValueError) as exc:
            definition = self.registry.get(message.task_name)
            raise argument_error(self.serializer, definition, message, exc) from None
        outgoing = OutgoingMessage(message.uuid, message.queue, message.priority, body, message.eta)
        record = message.record(TaskStatus.NEW)
        if plugins.before_broker_send:
            outgoing = await plugins.replace_value(
                plugins.before_broker_send, outgoing, expect=OutgoingMessage
            )
        if plugins.before_storage_save:
            record = await plugins.replace_value(plugins.before_storage_save, record, expect=Task)
        return message, record, outgoing

    # -- results -----------------------------------------------------------------------------

    async def get(self, uuid: str) -> Task | None:
        """Return the stored record of ``uuid``, or ``None`` if it is unknown or expired."""
        await self.start()
        record = await self.storage.get(uuid)
        return None if record is None else record.with_waiter(self)

    async def wait_result(self, uuid: str, timeout: float | None = None) -> Task:
        """Wait for ``uuid`` to finish and return its final record, whatever the status."""
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds or None, got {timeout!r}")
        await self.start()
        if timeout is None and await self.storage.get(uuid) is None:
            raise TaskNotFoundError(uuid)  # waiting forever for it would hang the caller
        record = await self.storage.wait(uuid, timeout)
        if record is None:
            assert timeout is not None
            known = await self.storage.get(uuid)
            if known is None:
                raise TaskNotFoundError(uuid)
            raise TaskTimeoutError(known.task_name, uuid, timeout)
        return record.with_waiter(self)

    async def await_final(self, uuid: str, timeout: float | None) -> Task:
        """``ResultWaiter``: what ``Task.wait_result_async`` calls."""
        return await self.wait_result(uuid, timeout)

    def block_until_final(self, uuid: str, timeout: float | None) -> Task:
        """``ResultWaiter``: ``Task.wait_result`` from a worker thread of this app's loop."""
        try:
            return anyio.from_thread.run(self.wait_result, uuid, timeout)
        except RuntimeError as exc:
            if "worker thread" not in str(exc) and "event loop" not in str(exc):
                raise
            raise RuntimeError(
                "Task.wait_result() blocks; in async code use await task.wait_result_async()"
            ) from None
