"""``Depends``: the marker a task parameter carries to say where its value comes from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from qtasks.exceptions import ConfigurationError

__all__ = ["SCOPES", "Dependency", "Depends", "Scope"]

Scope = Literal["task", "worker", "broker", "storage", "global_config"]

#: Scopes from the shortest lifetime to the longest. A task-scoped value lives for one call;
#: a worker-scoped one until that worker stops; the others until the app stops that component
#: (the app stops the broker, then the storage, then the global config).
SCOPES: tuple[Scope, ...] = ("task", "worker", "broker", "storage", "global_config")


class Dependency:
    """A parameter's provider and how long the value it gives is kept."""

    __slots__ = ("provider", "scope")

    def __init__(self, provider: Callable[..., Any] | None, scope: Scope) -> None:
        if provider is not None and not callable(provider):
            raise ConfigurationError(
                f"Depends() takes a callable that provides the value, got {provider!r}"
            )
        if scope not in SCOPES:
            raise ConfigurationError(
                f"Depends scope must be one of {', '.join(SCOPES)}; got {scope!r}"
            )
        self.provider = provider
        self.scope: Scope = scope

    def __repr__(self) -> str:
        name = getattr(self.provider, "__qualname__", repr(self.provider))
        return f"Depends({name}, scope={self.scope!r})"


def Depends(  # noqa: N802 - reads as a marker at the call site, like a class
    provider: Callable[..., Any] | None = None, *, scope: Scope = "task"
) -> Any:
    """Mark a task parameter as provided by ``provider`` (a default value or in ``Annotated``).

    ``provider`` may be a sync or async function, a sync or async generator (code after the
    ``yield`` is the teardown), a context manager factory, or a class; its own parameters may
    use ``Depends`` too. Without a provider the parameter's annotated class is called.
    ``scope`` says how long a value is reused: ``task`` (one call; the default), ``worker``,
    ``broker``, ``storage`` or ``global_config`` (until that part stops).

    Typed as ``Any`` so that ``db: Connection = Depends(connect)`` type-checks.
    """
    return Dependency(provider, scope)
