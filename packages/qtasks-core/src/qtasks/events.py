"""Lifecycle events as decorators: ``@app.events.on.starting()``, ``task_success()``, ...

``starting`` and ``stopping`` callbacks take no arguments and run when a worker of this app
starts or stops in this process (components up in both cases). ``task_success``,
``task_error`` and ``task_cancel`` callbacks receive the task's final ``Task`` record when an
attempt ends that way (an error that will be retried is not a ``task_error``). Callbacks may
be plain or async functions; plain ones run in a worker thread, so they may block or call the
sync app. A callback that raises is logged and the others still run.

Events are delivered by ``EventsPlugin``, added to the app the first time a callback is.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio.to_thread

from qtasks.plugins.base import Plugin
from qtasks.task import TaskStatus

if TYPE_CHECKING:
    from qtasks.definition import TaskDefinition
    from qtasks.interfaces.executor import Outcome, TaskCall
    from qtasks.interfaces.worker import Worker
    from qtasks.task import Task

__all__ = ["EVENTS", "Event", "Events", "EventsPlugin"]

logger = logging.getLogger("qtasks.events")

Event = Literal["starting", "stopping", "task_success", "task_error", "task_cancel"]
EVENTS: tuple[Event, ...] = ("starting", "stopping", "task_success", "task_error", "task_cancel")
_BY_STATUS: dict[TaskStatus, Event] = {
    TaskStatus.SUCCESS: "task_success",
    TaskStatus.ERROR: "task_error",
    TaskStatus.CANCEL: "task_cancel",
}

F = TypeVar("F", bound=Callable[..., Any])


class _On:
    """The decorator factories: ``events.on.<event>()``."""

    def __init__(self, events: Events) -> None:
        self._events = events

    def starting(self) -> Callable[[F], F]:
        """Call the function when a worker of this app starts (no arguments)."""
        return self._events.decorator("starting")

    def stopping(self) -> Callable[[F], F]:
        """Call the function when a worker of this app has stopped (no arguments)."""
        return self._events.decorator("stopping")

    def task_success(self) -> Callable[[F], F]:
        """Call the function with the final record of every task that succeeds."""
        return self._events.decorator("task_success")

    def task_error(self) -> Callable[[F], F]:
        """Call the function with the final record of every task that ends as an error."""
        return self._events.decorator("task_error")

    def task_cancel(self) -> Callable[[F], F]:
        """Call the function with the final record of every cancelled task."""
        return self._events.decorator("task_cancel")


class Events:
    """The callbacks of one app, by event. ``on`` holds the decorators."""

    def __init__(self, changed: Callable[[Events], None]) -> None:
        self._callbacks: dict[Event, list[Callable[..., Any]]] = {name: [] for name in EVENTS}
        self._changed = changed
        self.on = _On(self)

    def decorator(self, event: Event) -> Callable[[F], F]:
        """A decorator that adds its function to ``event`` and returns it unchanged."""

        def register(func: F) -> F:
            self.add(event, func)
            return func

        return register

    def add(self, event: Event, callback: Callable[..., Any]) -> None:
        """Call ``callback`` on ``event`` (the decorators' plain form)."""
        if event not in self._callbacks:
            raise ValueError(f"unknown event {event!r}; events are: {', '.join(EVENTS)}")
        if not callable(callback):
            raise TypeError(f"an event callback must be callable, got {callback!r}")
        self._callbacks[event].append(callback)
        self._changed(self)

    def callbacks(self, event: Event) -> list[Callable[..., Any]]:
        """The callbacks registered for ``event``, in order."""
        return list(self._callbacks[event])

    @property
    def watches_tasks(self) -> bool:
        """Whether any task event has a callback (otherwise tasks skip the events plugin)."""
        return any(self._callbacks[e] for e in ("task_success", "task_error", "task_cancel"))

    async def fire(self, event: Event, *args: Any) -> None:
        """Run ``event``'s callbacks one after another; failures are logged."""
        for callback in self._callbacks[event]:
            try:
                if inspect.iscoroutinefunction(callback):
                    await callback(*args)
                else:
                    result = await anyio.to_thread.run_sync(callback, *args)
                    if inspect.isawaitable(result):
                        await result
            except Exception:
                name = getattr(callback, "__qualname__", repr(callback))
                logger.exception("%s callback %s failed", event, name)


class EventsPlugin(Plugin):
    """Delivers ``Events`` through the plugin hooks."""

    name = "events"

    def __init__(self, events: Events) -> None:
        self.events = events

    def applies_to(self, definition: TaskDefinition) -> bool:
        """Tasks pay for this plugin only while a task event has a callback."""
        return self.events.watches_tasks

    async def on_worker_start(self, worker: Worker) -> None:
        """Fire ``starting``."""
        await self.events.fire("starting")

    async def on_worker_stop(self, worker: Worker) -> None:
        """Fire ``stopping``."""
        await self.events.fire("stopping")

    async def after_cancel(self, task: Task) -> None:
        """Fire ``task_cancel`` for a task cancelled before it ever ran."""
        await self.events.fire("task_cancel", task)

    async def after_attempt(self, call: TaskCall, outcome: Outcome) -> None:
        """Fire the task event matching how the attempt ended, with the final record."""
        event = _BY_STATUS.get(outcome.status)
        if event is not None:
            await self.events.fire(event, call.record)
