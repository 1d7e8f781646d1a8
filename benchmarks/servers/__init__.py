"""Servers a run needs, one module per kind (``redis.py``; later ``amqp.py``, ``kafka.py``).

A server module provides ``add_arguments(parser)`` for its command-line options and
``open_server(options)``, a context manager yielding a ``Server``: its URL for the systems,
``reset()`` to clear it between systems, and ``describe()`` for the JSON. The driver opens
only the kinds that the selected systems name in ``System.server``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType
from typing import Any, Protocol

__all__ = ["Server", "add_arguments", "open_servers"]


class Server(Protocol):
    """A running server the systems of one kind share, cleared between systems."""

    kind: str
    url: str

    def reset(self) -> None:
        """Remove everything the previous system left."""

    def describe(self) -> dict[str, Any]:
        """Version and origin, for the JSON (no credentials)."""


def _modules() -> dict[str, ModuleType]:
    return {
        info.name: importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every server module's command-line options."""
    for module in _modules().values():
        module.add_arguments(parser)


@contextmanager
def open_servers(kinds: set[str], options: argparse.Namespace) -> Iterator[dict[str, Server]]:
    """Start (or connect to) one server of each kind; stop what was started on exit."""
    modules = _modules()
    unknown = kinds - set(modules)
    if unknown:
        raise SystemExit(f"no server module for {sorted(unknown)} in benchmarks/servers/")
    with ExitStack() as stack:
        yield {kind: stack.enter_context(modules[kind].open_server(options)) for kind in kinds}
