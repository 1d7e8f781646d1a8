"""DependsPlugin: fills ``Depends``, ``State`` and context parameters, and tears values down.

Built on the ordinary plugin hooks: ``on_register`` reads the task's signature once,
``before_execute`` resolves values into the call, ``after_attempt`` closes task-scoped values,
and ``on_worker_stop``/``on_component_stop`` close the longer-lived ones, newest first. Every
app gets one; ``app.plugins.replace(DependsPlugin, Custom())`` swaps it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from qtasks.depends._graph import Analyser, GraphError, Need, Node, Plan
from qtasks.depends.marker import SCOPES, Scope
from qtasks.exceptions import CancelTask, DependencyError, Retry
from qtasks.plugins.base import Plugin

if TYPE_CHECKING:
    from types import TracebackType

    from qtasks.definition import TaskDefinition
    from qtasks.interfaces.component import Component
    from qtasks.interfaces.executor import Outcome, TaskCall
    from qtasks.interfaces.worker import Worker

__all__ = ["DependsPlugin"]

logger = logging.getLogger("qtasks.depends")

ExitCallback = Callable[
    [type[BaseException] | None, BaseException | None, "TracebackType | None"], Awaitable[bool]
]


class _Scope:
    """The values one owner (a worker, the broker, ...) keeps for one scope."""

    __slots__ = ("locks", "owner", "scope", "stack", "values")

    def __init__(self, scope: Scope, owner: object) -> None:
        self.scope = scope
        self.owner = owner
        self.values: dict[Any, Any] = {}
        self.locks: dict[Any, anyio.Lock] = {}
        self.stack = AsyncExitStack()


class DependsPlugin(Plugin):
    """Dependency injection for tasks; added to every app by default."""

    name = "depends"

    def __init__(self) -> None:
        self._analyser = Analyser()
        self._plans: dict[TaskDefinition, Plan] = {}
        self._scopes: dict[tuple[str, int], _Scope] = {}

    def on_register(self, definition: TaskDefinition) -> None:
        """Read the signature once; refuse cycles and scopes that cannot work."""
        plan = self._analyser.plan(definition)
        if plan is None:
            self._plans.pop(definition, None)
            definition.injected = frozenset()
            return
        self._plans[definition] = plan
        definition.injected = plan.injected

    def applies_to(self, definition: TaskDefinition) -> bool:
        """Only tasks with something to inject pay for this plugin."""
        return definition in self._plans

    async def before_execute(self, call: TaskCall) -> None:
        """Resolve every injected parameter into ``call.args``/``call.kwargs``."""
        plan = self._plans.get(call.definition)
        if plan is None:
            return
        stack = AsyncExitStack()
        call.plugin_data[self] = stack
        task_values: dict[Any, Any] = {}
        values = {}
        for name, need in plan.needs:
            values[name] = await self._value(need, call, task_values, stack, ())
        call.args, call.kwargs = plan.apply(call.args, call.kwargs, values)

    async def after_attempt(self, call: TaskCall, outcome: Outcome) -> None:
        """Tear task-scoped values down, newest first, however the attempt ended.

        Teardown code after a provider's ``yield`` always runs, as with pytest fixtures: the
        task's exception is not thrown into it, so ``yield conn; conn.close()`` never leaks.
        """
        stack: AsyncExitStack | None = call.plugin_data.pop(self, None)
        if stack is not None:
            await stack.aclose()

    async def on_worker_stop(self, worker: Worker) -> None:
        """Close the worker's scope (and its States)."""
        await self._close_owner(worker)

    async def on_component_stop(self, component: Component) -> None:
        """Close what lives as long as ``component`` (and eager-mode worker values)."""
        await self._close_owner(component)

    # -- resolving ---------------------------------------------------------------------------

    async def _value(
        self,
        need: Need,
        call: TaskCall,
        task_values: dict[Any, Any],
        stack: AsyncExitStack,
        path: tuple[Node, ...],
    ) -> Any:
        if need.kind == "context":
            return call.context
        if need.kind == "state":
            scope = self._scope("worker", call)
            state = scope.values.get(need.cls)
            if state is None:
                assert need.cls is not None
                state = scope.values[need.cls] = need.cls()
            return state
        node = need.node
        assert node is not None
        if any(seen is node for seen in path):
            # Overrides are applied at run time, so only here can they close a loop.
            cycle = " -> ".join(n.label for n in (*path, node))
            error = GraphError(f"Depends cycle through dependency_overrides: {cycle}")
            raise DependencyError(call.message.task_name, call.message.uuid, node.label, error)
        path = (*path, node)
        if node.scope == "task":
            if node.key in task_values:
                return task_values[node.key]
            implementation = self._implementation(node, call)
            value = await self._produce(implementation, call, task_values, stack, path)
            task_values[node.key] = value
            return value
        scope = self._scope(node.scope, call)
        if node.key in scope.values:
            return scope.values[node.key]
        lock = scope.locks.get(node.key)
        if lock is None:
            lock = scope.locks[node.key] = anyio.Lock()
        async with lock:
            if node.key not in scope.values:
                implementation = self._implementation(node, call)
                scope.values[node.key] = await self._produce(
                    implementation, call, task_values, scope.stack, path
                )
        return scope.values[node.key]

    def _implementation(self, node: Node, call: TaskCall) -> Node:
        overrides = call.context.app.dependency_overrides
        if not overrides:
            return node
        fake = overrides.get(node.provider)
        if fake is None:
            return node
        try:
            return self._analyser.node(fake, node.scope, call.definition.namespace)
        except GraphError as exc:
            raise DependencyError(
                call.message.task_name, call.message.uuid, node.label, exc
            ) from None

    def _scope(self, scope: Scope, call: TaskCall) -> _Scope:
        context = call.context
        owner: object
        if scope == "worker":
            # Eager runs outside a worker keep worker values until the broker stops.
            owner = call.worker if call.worker is not None else context.broker
        elif scope == "broker":
            owner = context.broker
        elif scope == "storage":
            owner = context.storage
        else:
            owner = context.global_config
        key = (scope, id(owner))
        found = self._scopes.get(key)
        if found is None or found.owner is not owner:
            found = self._scopes[key] = _Scope(scope, owner)
        return found

    async def _produce(
        self,
        node: Node,
        call: TaskCall,
        task_values: dict[Any, Any],
        stack: AsyncExitStack,
        path: tuple[Node, ...],
    ) -> Any:
        kwargs = {}
        for name, need in node.needs:
            kwargs[name] = await self._value(need, call, task_values, stack, path)
        provider = node.provider
        try:
            if node.mode == "agen":
                return await _enter(asynccontextmanager(provider)(**kwargs), stack, node.label)
            if node.mode == "gen":
                return await _enter(contextmanager(provider)(**kwargs), stack, node.label)
            if node.mode == "async":
                value = await provider(**kwargs)
            elif node.mode == "factory":
                value = provider(**kwargs)
            else:
                value = await anyio.to_thread.run_sync(partial(provider, **kwargs))
            return await _enter(value, stack, node.label) if node.enter else value
        except (Retry, CancelTask, DependencyError):
            raise
        except Exception as exc:
            raise DependencyError(
                call.message.task_name, call.message.uuid, node.label, exc
            ) from exc

    # -- teardown ----------------------------------------------------------------------------

    async def _close_owner(self, owner: object) -> None:
        owned = [s for s in self._scopes.values() if s.owner is owner]
        owned.sort(key=lambda s: SCOPES.index(s.scope))
        for scope in owned:
            self._scopes.pop((scope.scope, id(owner)), None)
            with anyio.CancelScope(shield=True):
                await scope.stack.aclose()


async def _enter(value: Any, stack: AsyncExitStack, label: str) -> Any:
    if hasattr(value, "__aenter__"):
        entered = await value.__aenter__()
        stack.push_async_exit(_async_exit(value, label))
        return entered
    if hasattr(value, "__enter__"):
        entered = await anyio.to_thread.run_sync(value.__enter__)
        stack.push_async_exit(_thread_exit(value, label))
        return entered
    return value


def _async_exit(manager: Any, label: str) -> ExitCallback:
    async def close(
        kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        try:
            await manager.__aexit__(kind, exc, tb)
        except Exception:
            logger.exception("teardown of dependency %s failed", label)
        return False

    return close


def _thread_exit(manager: Any, label: str) -> ExitCallback:
    async def close(
        kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        try:
            await anyio.to_thread.run_sync(manager.__exit__, kind, exc, tb)
        except Exception:
            logger.exception("teardown of dependency %s failed", label)
        return False

    return close
