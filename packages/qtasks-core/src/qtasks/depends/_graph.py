"""Reading signatures once, at registration: which parameters are injected, and from where.

A task's ``Plan`` lists what fills each injected parameter (a provider ``Node``, the context,
or a ``State``) and how to lay the values out among the caller's arguments. Nodes are shared
by every task that uses the same provider with the same scope; building one checks its whole
subgraph for cycles, for scopes that outlive what they depend on, and for parameters nothing
can fill, so a broken graph fails at import time rather than in a worker.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

from qtasks.context import BaseTaskContext, SyncTaskContext, TaskContext
from qtasks.definition import TaskKind
from qtasks.depends.marker import SCOPES, Dependency, Scope
from qtasks.exceptions import TaskDefinitionError
from qtasks.state import AsyncState, SyncState

if TYPE_CHECKING:
    from qtasks.definition import TaskDefinition

__all__ = ["Analyser", "GraphError", "Need", "Node", "Plan"]

#: How a provider is called: awaited, run in a thread, or entered as a context manager made
#: from a generator (``agen``/``gen``) or returned by a ``@contextmanager`` factory.
Mode = Literal["async", "thread", "agen", "gen", "factory"]
NeedKind = Literal["provider", "context", "state"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_EMPTY = inspect.Parameter.empty


class GraphError(Exception):
    """A dependency graph that cannot work; turned into an error naming the task."""


class Need:
    """What fills one parameter: a provider's value, the running context, or a State."""

    __slots__ = ("cls", "kind", "node")

    def __init__(self, kind: NeedKind, *, node: Node | None = None, cls: type | None = None):
        self.kind: NeedKind = kind
        self.node = node
        #: The context or State class asked for.
        self.cls = cls

    @property
    def scope(self) -> Scope:
        """How long the value lives."""
        if self.node is not None:
            return self.node.scope
        return "task" if self.kind == "context" else "worker"

    @property
    def label(self) -> str:
        """What a person would call this value in an error message."""
        if self.node is not None:
            return self.node.label
        assert self.cls is not None
        return self.cls.__name__


class Node:
    """One provider with a scope, and what its own parameters need."""

    __slots__ = ("contexts", "enter", "key", "label", "mode", "needs", "provider", "scope")

    def __init__(self, provider: Callable[..., Any], scope: Scope) -> None:
        self.provider = provider
        self.scope: Scope = scope
        self.key = (id(provider), scope)
        self.label = label_of(provider)
        self.mode: Mode = _mode(provider)
        #: Whether what the provider returns is a context manager to enter (and exit at
        #: teardown): true for ``@contextmanager`` factories and context manager classes.
        self.enter = self.mode == "factory" or (
            isinstance(provider, type)
            and (hasattr(provider, "__aenter__") or hasattr(provider, "__enter__"))
        )
        self.needs: list[tuple[str, Need]] = []
        #: Context classes asked for anywhere in this subgraph, checked against a task's kind.
        self.contexts: frozenset[type] = frozenset()


class Plan:
    """How to inject into one task's calls."""

    __slots__ = ("injected", "layout", "needs", "reorder")

    def __init__(
        self, needs: list[tuple[str, Need]], layout: list[tuple[str, bool]], reorder: bool
    ) -> None:
        self.needs = needs
        #: Every positional parameter in order, with whether it is injected.
        self.layout = layout
        #: Whether injected values must sit between the caller's positional arguments.
        self.reorder = reorder
        self.injected = frozenset(name for name, _ in needs)

    def apply(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], values: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Merge the injected ``values`` with the caller's ``args`` and ``kwargs``.

        Caller arguments fill the parameters that are not injected, in order; an injected
        parameter goes by position while every one before it was given by position, and by
        keyword after that.
        """
        if not self.reorder:
            kwargs.update(values)
            return args, kwargs
        values = dict(values)
        given = iter(args)
        out: list[Any] = []
        exhausted = False
        for name, injected in self.layout:
            if exhausted:
                continue
            if injected:
                out.append(values.pop(name))
                continue
            try:
                out.append(next(given))
            except StopIteration:
                exhausted = True
        out.extend(given)
        kwargs.update(values)
        return tuple(out), kwargs


class Analyser:
    """Builds and caches provider nodes; one per ``DependsPlugin``."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[int, str], Node] = {}

    def plan(self, definition: TaskDefinition) -> Plan | None:
        """The injection plan of ``definition``, or ``None`` if it injects nothing."""
        try:
            return self._plan(definition)
        except GraphError as exc:
            raise TaskDefinitionError(definition.name, str(exc)) from None

    def _plan(self, definition: TaskDefinition) -> Plan | None:
        signature = definition.signature
        if signature is None:
            return None
        params = list(signature.parameters.values())
        needs: list[tuple[str, Need]] = []
        contexts: set[type] = set()
        for index, param in enumerate(params):
            if (definition.echo and index == 0) or param.kind in _VARIADIC:
                continue
            need = self._need(param, definition.func, definition.namespace, ())
            if need is None:
                continue
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise GraphError(
                    f"parameter '{param.name}' is injected, so it cannot be positional-only; "
                    "remove the '/' before it"
                )
            needs.append((param.name, need))
            if need.kind == "context":
                assert need.cls is not None
                contexts.add(need.cls)
            elif need.node is not None:
                contexts |= need.node.contexts
        if not needs:
            return None
        _check_contexts(definition, contexts)
        injected = {name for name, _ in needs}
        layout = [(p.name, p.name in injected) for p in params if p.kind in _POSITIONAL]
        reorder = False
        seen_injected = False
        for _, is_injected in layout:
            seen_injected = seen_injected or is_injected
            reorder = reorder or (seen_injected and not is_injected)
        if seen_injected and any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
            reorder = True
        return Plan(needs, layout, reorder)

    def node(
        self,
        provider: Callable[..., Any],
        scope: Scope,
        localns: dict[str, Any] | None = None,
        path: tuple[Any, ...] = (),
    ) -> Node:
        """The node of ``provider`` at ``scope``, analysing its subgraph on first use.

        ``localns`` resolves string annotations naming things local to where the task was
        defined (providers are usually defined next to it).
        """
        key = (id(provider), scope)
        cached = self._nodes.get(key)
        if cached is not None:
            return cached
        for index, seen in enumerate(path):
            if seen is provider:
                cycle = " -> ".join(label_of(p) for p in (*path[index:], provider))
                raise GraphError(f"Depends cycle: {cycle}; break it by removing one of these")
        node = Node(provider, scope)
        try:
            signature = inspect.signature(provider)
        except (TypeError, ValueError):
            signature = None
        contexts: set[type] = set()
        params = [] if signature is None else list(signature.parameters.values())
        for param in params:
            if param.kind in _VARIADIC:
                continue
            need = self._need(param, provider, localns, (*path, provider))
            if need is None:
                if param.default is _EMPTY:
                    raise GraphError(
                        f"provider {node.label} has a parameter '{param.name}' that nothing "
                        "fills: give it a default, Depends(...), or a context or State "
                        "annotation"
                    )
                continue
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise GraphError(
                    f"provider {node.label}: injected parameter '{param.name}' must not be "
                    "positional-only"
                )
            if SCOPES.index(need.scope) < SCOPES.index(scope):
                raise GraphError(
                    f"provider {node.label} (scope '{scope}') depends on {need.label} (scope "
                    f"'{need.scope}'), which ends sooner; give {node.label} the scope "
                    f"'{need.scope}', or give {need.label} a longer one"
                )
            if need.kind == "context":
                assert need.cls is not None
                contexts.add(need.cls)
            elif need.node is not None:
                contexts |= need.node.contexts
            node.needs.append((param.name, need))
        node.contexts = frozenset(contexts)
        self._nodes[key] = node
        return node

    def _need(
        self,
        param: inspect.Parameter,
        func: Callable[..., Any],
        localns: dict[str, Any] | None,
        path: tuple[Any, ...],
    ) -> Need | None:
        annotation = _annotation(param, func, localns)
        base = annotation
        marker = param.default if isinstance(param.default, Dependency) else None
        if get_origin(annotation) is Annotated:
            base = get_args(annotation)[0]
            for meta in annotation.__metadata__:
                if isinstance(meta, Dependency):
                    marker = meta
        if marker is not None:
            provider = marker.provider
            if provider is None:
                if base is None or not callable(base):
                    raise GraphError(
                        f"parameter '{param.name}': Depends() without a provider needs a class "
                        "annotation to call; write Depends(provider)"
                    )
                provider = base
            return Need("provider", node=self.node(provider, marker.scope, localns, path))
        if isinstance(base, type):
            if issubclass(base, BaseTaskContext):
                return Need("context", cls=base)
            if issubclass(base, (AsyncState, SyncState)):
                if base in (AsyncState, SyncState):
                    raise GraphError(
                        f"parameter '{param.name}': annotate a subclass of {base.__name__} "
                        f"(class MyState({base.__name__}): ...), so that different states "
                        "stay apart"
                    )
                return Need("state", cls=base)
        return None


def _check_contexts(definition: TaskDefinition, contexts: set[type]) -> None:
    if definition.kind.is_async and SyncTaskContext in contexts:
        raise GraphError(
            "an async task receives a TaskContext (awaitable helpers); annotate TaskContext "
            "instead of SyncTaskContext"
        )
    if not definition.kind.is_async and TaskContext in contexts:
        raise GraphError(
            "a sync task runs in a thread and receives a SyncTaskContext (blocking helpers); "
            "annotate SyncTaskContext instead of TaskContext"
        )


def _annotation(
    param: inspect.Parameter, func: Callable[..., Any], localns: dict[str, Any] | None
) -> Any:
    annotation = param.annotation
    if annotation is _EMPTY:
        return None
    if isinstance(annotation, str):
        try:
            # Annotations are the caller's own code; this is what typing.get_type_hints does,
            # one parameter at a time so that one unresolvable name does not hide the rest.
            return eval(annotation, _globals_of(func), localns or {})  # noqa: S307
        except Exception:
            return None
    return annotation


def _globals_of(func: Any) -> dict[str, Any]:
    target = func
    while True:
        inner = getattr(target, "func", None)  # functools.partial
        if inner is None or not callable(inner):
            break
        target = inner
    with contextlib.suppress(ValueError):
        target = inspect.unwrap(target)
    found = getattr(target, "__globals__", None)
    if isinstance(found, dict):
        return found
    module = sys.modules.get(getattr(target, "__module__", None) or "")
    return vars(module) if module is not None else {}


def _mode(provider: Callable[..., Any]) -> Mode:
    kind = TaskKind.of(provider)
    if kind is TaskKind.ASYNC:
        return "async"
    if kind is TaskKind.ASYNC_GENERATOR:
        return "agen"
    if kind is TaskKind.SYNC_GENERATOR:
        return "gen"
    wrapped: Any = getattr(provider, "__wrapped__", None)
    if wrapped is not None and (
        inspect.isasyncgenfunction(wrapped) or inspect.isgeneratorfunction(wrapped)
    ):
        return "factory"  # @contextmanager / @asynccontextmanager: cheap to call on the loop
    return "thread"


def label_of(provider: Any) -> str:
    """A provider's name for messages: its qualified name, without enclosing functions."""
    name = getattr(provider, "__qualname__", None) or getattr(provider, "__name__", None)
    return str(name).rsplit("<locals>.", 1)[-1] if name else repr(provider)
