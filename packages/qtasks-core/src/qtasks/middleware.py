"""Task middlewares: code that wraps every call of a task function, onion style.

A middleware is any callable ``async def mw(task, call_next)`` (a function or an object with
that ``__call__``). ``task`` is the attempt's ``TaskCall``; ``await call_next(task)`` runs the
rest of the chain and the function and returns its result, or raises what it raised, so a
middleware can time a call, hold a transaction open around it, retry it in place, swallow an
error or change the result. App-wide middlewares (``app.add_middleware``) wrap per-task ones
(``@app.task(middlewares=[...])``); within each list the first one is the outermost.

Middlewares run inside the executor, so ``max_time`` and cancellation cover them too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from qtasks.interfaces.executor import TaskCall

__all__ = ["CallNext", "TaskMiddleware", "call_through"]

#: What a middleware calls to run the rest of the chain: takes the call, returns the result.
CallNext = Callable[["TaskCall"], Awaitable[Any]]


class TaskMiddleware(Protocol):
    """The shape of a middleware: an async callable taking the call and the next step."""

    def __call__(self, task: TaskCall, call_next: CallNext, /) -> Awaitable[Any]:
        """Run ``await call_next(task)`` (or not) and return the task's result."""
        ...


async def call_through(
    middlewares: Sequence[TaskMiddleware], call: TaskCall, invoke: CallNext
) -> Any:
    """Run ``invoke(call)`` wrapped by ``middlewares`` (the first one outermost).

    Custom executors call this around their own invocation to honour middlewares.
    """
    if not middlewares:
        return await invoke(call)
    return await _Link(middlewares, 0, invoke)(call)


class _Link:
    """One step of the chain; built lazily so a middleware that never calls on costs nothing."""

    __slots__ = ("_index", "_invoke", "_middlewares")

    def __init__(self, middlewares: Sequence[TaskMiddleware], index: int, invoke: CallNext):
        self._middlewares = middlewares
        self._index = index
        self._invoke = invoke

    async def __call__(self, call: TaskCall) -> Any:
        index = self._index
        if index == len(self._middlewares):
            return await self._invoke(call)
        following = _Link(self._middlewares, index + 1, self._invoke)
        return await self._middlewares[index](call, following)
