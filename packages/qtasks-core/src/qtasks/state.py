"""Shared state for the tasks of one worker: subclass ``AsyncState`` or ``SyncState``.

Annotating a task parameter with a subclass gets every task of the worker the same instance
(made on first use, dropped when the worker stops). ``AsyncState`` is for async tasks: its
methods are coroutines and one lock orders them, so ``update(fn)`` is atomic even when ``fn``
awaits. ``SyncState`` is for sync tasks running in threads: plain methods under a thread lock.
Values live in this process only; use the global config to share across processes.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

import anyio

__all__ = ["AsyncState", "SyncState"]

_MISSING: Any = object()


def _merged(current: dict[str, Any], fn: Any, values: Mapping[str, Any]) -> dict[str, Any] | Any:
    if fn is not None and values:
        raise TypeError("update() takes a function or keyword values, not both")
    if fn is None:
        return {**current, **values}
    if not callable(fn):
        raise TypeError(f"update() expects a function of the current dict, got {fn!r}")
    return fn(dict(current))


def _checked(result: Any, owner: object) -> dict[str, Any]:
    if not isinstance(result, Mapping):
        raise TypeError(
            f"{type(owner).__name__}.update(fn): fn must return a mapping (the new data), "
            f"got {type(result).__name__}"
        )
    return dict(result)


class AsyncState:
    """Per-worker data for async tasks; every method takes one lock, so each is atomic.

    ``initial`` (a class attribute) gives the data a fresh instance starts with.
    """

    initial: ClassVar[Mapping[str, Any]] = {}

    def __init__(self) -> None:
        self._data: dict[str, Any] = dict(self.initial)
        self._lock = anyio.Lock()

    async def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        async with self._lock:
            return self._data.get(key, default)

    async def set(self, key: str, value: Any) -> None:
        """Set ``key`` to ``value``."""
        async with self._lock:
            self._data[key] = value

    async def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it was there."""
        async with self._lock:
            return self._data.pop(key, _MISSING) is not _MISSING

    async def clear(self) -> None:
        """Remove everything."""
        async with self._lock:
            self._data.clear()

    async def get_all(self) -> dict[str, Any]:
        """A copy of all the data."""
        async with self._lock:
            return dict(self._data)

    async def update(
        self,
        fn: Callable[[dict[str, Any]], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]
        | None = None,
        /,
        **values: Any,
    ) -> dict[str, Any]:
        """Merge ``values`` in, or replace the data with ``fn(copy_of_data)``; return the result.

        ``fn`` may be a coroutine function: the lock is held while it runs, so no other
        method of this state interleaves with it.
        """
        async with self._lock:
            result = _merged(self._data, fn, values)
            if inspect.isawaitable(result):
                result = await result
            self._data = _checked(result, self)
            return dict(self._data)


class SyncState:
    """Per-worker data for sync tasks (which run in threads); every method is thread-safe.

    ``initial`` (a class attribute) gives the data a fresh instance starts with.
    """

    initial: ClassVar[Mapping[str, Any]] = {}

    def __init__(self) -> None:
        self._data: dict[str, Any] = dict(self.initial)
        self._lock = threading.RLock()

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        with self._lock:
            return self._data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Set ``key`` to ``value``."""
        with self._lock:
            self._data[key] = value

    def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it was there."""
        with self._lock:
            return self._data.pop(key, _MISSING) is not _MISSING

    def clear(self) -> None:
        """Remove everything."""
        with self._lock:
            self._data.clear()

    def get_all(self) -> dict[str, Any]:
        """A copy of all the data."""
        with self._lock:
            return dict(self._data)

    def update(
        self,
        fn: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
        /,
        **values: Any,
    ) -> dict[str, Any]:
        """Merge ``values`` in, or replace the data with ``fn(copy_of_data)``; return the result.

        The lock is held while ``fn`` runs, so concurrent updates never lose one another.
        """
        with self._lock:
            result = _merged(self._data, fn, values)
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise TypeError("SyncState.update(fn): fn must be a plain function, not async")
            self._data = _checked(result, self)
            return dict(self._data)
