"""Task definitions: a function plus the options it was registered with, checked up front.

Everything that can be wrong with a task's options is found here, at import time, so a worker
never discovers a misconfigured task in production.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, NoReturn

from typing_extensions import TypedDict

from qtasks.exceptions import TaskDefinitionError

if TYPE_CHECKING:
    from qtasks.interfaces.executor import TaskExecutor
    from qtasks.middleware import TaskMiddleware

__all__ = ["DEFAULT_QUEUE", "TaskDefinition", "TaskKind", "TaskOptions"]

DEFAULT_QUEUE = "default"


class TaskOptions(TypedDict, total=False):
    """The keyword options of ``@app.task(...)``; see ``TaskDefinition`` for their meaning."""

    name: str
    priority: int
    queue: str
    retry: int
    retry_on_exc: type[BaseException] | tuple[type[BaseException], ...]
    retry_backoff: float | bool
    retry_backoff_max: float
    max_time: float
    echo: bool
    generate_handler: Callable[[Any], Any]
    tags: Sequence[str]
    description: str
    executor: TaskExecutor
    middlewares: Sequence[TaskMiddleware]
    extra: dict[str, Any]


class TaskKind(Enum):
    """How the executor has to call the function."""

    ASYNC = "async"
    SYNC = "sync"
    ASYNC_GENERATOR = "async generator"
    SYNC_GENERATOR = "sync generator"

    @property
    def is_async(self) -> bool:
        """Whether the function runs on the event loop rather than in a worker thread."""
        return self in (TaskKind.ASYNC, TaskKind.ASYNC_GENERATOR)

    @property
    def is_generator(self) -> bool:
        """Whether the function yields values for a ``generate_handler``."""
        return self in (TaskKind.ASYNC_GENERATOR, TaskKind.SYNC_GENERATOR)

    @classmethod
    def of(cls, func: Callable[..., Any]) -> TaskKind:
        """Classify ``func``, looking through ``functools.partial`` and callable objects."""
        target: Any = func
        if not inspect.isroutine(target) and not isinstance(target, functools.partial):
            # A callable object: classify its __call__ (inspect sees through partials itself).
            target = getattr(type(target), "__call__", target)  # noqa: B004
        if inspect.isasyncgenfunction(target):
            return cls.ASYNC_GENERATOR
        if inspect.iscoroutinefunction(target):
            return cls.ASYNC
        if inspect.isgeneratorfunction(target):
            return cls.SYNC_GENERATOR
        return cls.SYNC


@dataclass(eq=False)
class TaskDefinition:
    """A registered task. Options are validated in ``__post_init__``.

    ``priority``: lower numbers run first (0 is the default; negative numbers are allowed).
    ``retry``: how many extra attempts after the first failure; ``retry_on_exc`` limits which
    exceptions are retried (``None`` retries any ``Exception``). ``retry_backoff`` is the base
    delay in seconds of the exponential backoff (``0`` retries at once), capped at
    ``retry_backoff_max``. ``max_time`` bounds one attempt's run time in seconds.
    """

    name: str
    func: Callable[..., Any]
    priority: int = 0
    queue: str = DEFAULT_QUEUE
    retry: int = 0
    retry_on_exc: tuple[type[BaseException], ...] | None = None
    retry_backoff: float = 1.0
    retry_backoff_max: float = 600.0
    max_time: float | None = None
    echo: bool = False
    generate_handler: Callable[[Any], Any] | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    executor: TaskExecutor | None = None
    middlewares: tuple[TaskMiddleware, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    kind: TaskKind = field(init=False)
    signature: inspect.Signature | None = field(init=False)
    injected: frozenset[str] = field(init=False, default=frozenset())
    namespace: dict[str, Any] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        func: Any = self.func  # checked at run time: decorators get called with anything
        handler: Any = self.generate_handler
        if not callable(func):
            self._fail(f"expected a function, got {type(func).__name__}")
        if not isinstance(self.name, str) or not self.name:
            self._fail("name must be a non-empty string")
        self.kind = TaskKind.of(self.func)
        try:
            self.signature = inspect.signature(self.func)
        except (TypeError, ValueError):  # some builtins have no signature
            self.signature = None
        self._check_numbers()
        self._check_retry_on_exc()
        if handler is not None:
            if not callable(handler):
                self._fail("generate_handler must be callable")
            if not self.kind.is_generator:
                self._fail(
                    "generate_handler is only used by generator tasks; make the function "
                    "yield, or drop generate_handler"
                )
        if self.echo and self.signature is not None and not self._positional_names():
            self._fail("echo=True passes the task object as the first argument; add a parameter")
        if not isinstance(self.queue, str) or not self.queue:
            self._fail("queue must be a non-empty string")
        self.tags = tuple(self.tags)
        self.middlewares = tuple(self.middlewares)
        if not all(callable(m) for m in self.middlewares):
            self._fail("middlewares must be async callables (task, call_next)")
        if self.description is None and self.func.__doc__:
            self.description = inspect.cleandoc(self.func.__doc__).split("\n", 1)[0]

    def _check_numbers(self) -> None:
        if not isinstance(self.priority, int) or isinstance(self.priority, bool):
            self._fail(f"priority must be an int, got {self.priority!r}")
        if not isinstance(self.retry, int) or isinstance(self.retry, bool) or self.retry < 0:
            self._fail(f"retry must be an int >= 0, got {self.retry!r}")
        if isinstance(self.retry_backoff, bool):
            self.retry_backoff = 1.0 if self.retry_backoff else 0.0
        if not _finite_at_least(self.retry_backoff, 0):
            self._fail(
                f"retry_backoff must be a number of seconds >= 0, got {self.retry_backoff!r}"
            )
        if not _finite_at_least(self.retry_backoff_max, 0):
            self._fail(f"retry_backoff_max must be >= 0, got {self.retry_backoff_max!r}")
        if self.max_time is not None and (
            not _finite_at_least(self.max_time, 0) or self.max_time == 0
        ):
            self._fail(f"max_time must be a number of seconds > 0, got {self.max_time!r}")

    def _check_retry_on_exc(self) -> None:
        value: Any = self.retry_on_exc
        if value is None:
            return
        if isinstance(value, type):
            value = (value,)
        if not isinstance(value, (tuple, list, set, frozenset)) or not all(
            isinstance(v, type) and issubclass(v, BaseException) for v in value
        ):
            self._fail(
                "retry_on_exc must be an exception class or a tuple of them, "
                f"got {self.retry_on_exc!r}"
            )
        self.retry_on_exc = tuple(value)
        if self.retry == 0:
            self._fail("retry_on_exc has no effect with retry=0; set retry=N as well")

    def _fail(self, message: str) -> NoReturn:
        name = self.name if isinstance(self.name, str) else repr(self.name)
        raise TaskDefinitionError(name, message)

    def _positional_names(self) -> list[str]:
        assert self.signature is not None
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return [p.name for p in self.signature.parameters.values() if p.kind in kinds]

    def argument_label(self, index: int) -> str:
        """Name positional argument ``index`` the way a user wrote it, for error messages."""
        if self.signature is not None:
            params = list(self.signature.parameters.values())
            if self.echo:
                params = params[1:]
            params = [p for p in params if p.name not in self.injected]
            if index < len(params) and params[index].kind in (
                inspect.Parameter.POSITIONAL_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            ):
                return f"'{params[index].name}' (position {index})"
        return f"at position {index}"

    @property
    def origin(self) -> str:
        """Where the function was defined, for duplicate-name errors."""
        module = getattr(self.func, "__module__", None) or "?"
        qualname = getattr(self.func, "__qualname__", None) or type(self.func).__name__
        return f"{module}.{qualname}"


def _finite_at_least(value: object, low: float) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= low
    )
