"""The default executor: async functions on the loop, sync ones in threads, generators stepped."""

from __future__ import annotations

import traceback
from functools import partial
from typing import Any

import anyio
import anyio.to_thread

from qtasks.definition import TaskDefinition, TaskKind
from qtasks.exceptions import CancelTask, MaxTimeExceededError
from qtasks.interfaces.executor import Outcome, TaskCall, TaskExecutor
from qtasks.middleware import call_through
from qtasks.task import TaskStatus

__all__ = ["DefaultExecutor", "failure_outcome"]

_NO_VALUE: Any = object()


class DefaultExecutor(TaskExecutor):
    """Calls the task function according to its kind and turns what happens into an Outcome.

    ``max_time`` is enforced with a cancel scope. An async task is interrupted at its next
    ``await``; a sync task cannot be interrupted (Python cannot stop a thread), so the attempt
    is reported as timed out at once and the thread is left to finish on its own, its result
    discarded. The same holds for cancelling a running sync task.

    Failures come back as error outcomes; whether one is retried is the retry policy's call
    (``RetryPlugin``), made after the executor returns. Middlewares wrap ``invoke``, inside the
    ``max_time`` scope.
    """

    async def execute(self, call: TaskCall) -> Outcome:
        """Run one attempt; failures become outcomes, never exceptions."""
        limit = call.definition.max_time
        if limit is None:  # no deadline: no cancel scope to pay for on the hot path
            return await self._attempt(call)
        with anyio.CancelScope(deadline=anyio.current_time() + limit):
            return await self._attempt(call)
        timeout = MaxTimeExceededError(call.definition.name, call.message.uuid, limit)
        return self.failure(call, timeout, with_traceback=False)

    async def _attempt(self, call: TaskCall) -> Outcome:
        try:
            if call.middlewares:
                value = await call_through(call.middlewares, call, self.invoke)
            else:
                value = await self.invoke(call)
        except CancelTask as exc:
            return Outcome(TaskStatus.CANCEL, cancel_reason=exc.reason, exception=exc)
        except Exception as exc:
            return self.failure(call, exc)
        return Outcome(TaskStatus.SUCCESS, returning=value)

    def failure(self, call: TaskCall, exc: Exception, *, with_traceback: bool = True) -> Outcome:
        """Describe a failed attempt as an error outcome (the retry policy may change it)."""
        return failure_outcome(exc, with_traceback=with_traceback)

    async def invoke(self, call: TaskCall) -> Any:
        """Call the function the way its kind needs and return the task's result."""
        definition = call.definition
        func = definition.func
        kind = definition.kind
        if kind is TaskKind.ASYNC:
            return await func(*call.args, **call.kwargs)
        if kind is TaskKind.SYNC:
            return await anyio.to_thread.run_sync(
                partial(func, *call.args, **call.kwargs),
                abandon_on_cancel=True,
                limiter=call.thread_limiter,
            )
        if kind is TaskKind.ASYNC_GENERATOR:
            return await self._async_generator(call)
        return await self._sync_generator(call)

    async def _handle(self, definition: TaskDefinition, value: Any) -> Any:
        handler = definition.generate_handler
        if handler is None:
            return None
        result = handler(value)
        if hasattr(result, "__await__"):
            result = await result
        return result

    async def _async_generator(self, call: TaskCall) -> list[Any]:
        definition = call.definition
        agen = definition.func(*call.args, **call.kwargs)
        outputs: list[Any] = []
        try:
            value = await agen.__anext__()
            while True:
                await call.publish_progress(value)
                handled = await self._handle(definition, value)
                outputs.append(handled if definition.generate_handler is not None else value)
                value = await agen.asend(handled)
        except StopAsyncIteration:
            return outputs
        finally:
            await agen.aclose()

    async def _sync_generator(self, call: TaskCall) -> Any:
        definition = call.definition
        gen = definition.func(*call.args, **call.kwargs)
        handler = definition.generate_handler
        sync_handler = handler if handler is not None and not _is_async(handler) else None

        def step(sent: Any) -> tuple[bool, Any, Any]:
            # One thread hop per step: advance the generator and, when the handler is sync,
            # run it in the same thread.
            try:
                value = gen.send(sent)
            except StopIteration as stop:
                return True, stop.value, _NO_VALUE
            handled = sync_handler(value) if sync_handler is not None else _NO_VALUE
            return False, value, handled

        sent: Any = None
        while True:
            done, value, handled = await anyio.to_thread.run_sync(
                step, sent, abandon_on_cancel=True, limiter=call.thread_limiter
            )
            if done:
                return value
            await call.publish_progress(value)
            if handled is _NO_VALUE:
                handled = await self._handle(definition, value)
            sent = handled


def failure_outcome(exc: BaseException, *, with_traceback: bool = True) -> Outcome:
    """The error outcome for ``exc``: ``Type: message``, with the traceback."""
    tb = "".join(traceback.format_exception(exc)) if with_traceback else None
    return Outcome(
        TaskStatus.ERROR, error=f"{type(exc).__name__}: {exc}", traceback=tb, exception=exc
    )


def _is_async(func: Any) -> bool:
    kind = TaskKind.of(func)
    return kind.is_async
