"""Servers a run needs, one module per kind: ``redis.py``, ``amqp.py``, ``kafka.py``.

A server module provides ``add_arguments(parser)`` for its command-line options and
``open_server(options)``, a context manager yielding a ``Server``: its URL for the systems,
``reset()`` to clear it between systems, and ``describe()`` for the JSON. The driver opens
only the kinds that the selected systems name in ``System.servers``. A server that cannot be
had on this machine (its binary is not installed) raises ``UnavailableError``: the systems that
need it are reported as such and the rest of the run goes on.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import ModuleType
from typing import Any, Protocol

__all__ = ["Server", "UnavailableError", "add_arguments", "open_servers"]


class UnavailableError(Exception):
    """This kind of server cannot be started here; the message says what is missing."""


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
def open_servers(
    kinds: set[str], options: argparse.Namespace
) -> Iterator[tuple[dict[str, Server], dict[str, str]]]:
    """Start (or connect to) one server of each kind; stop what was started on exit.

    Yields the running servers by kind, and why each kind that could not be had is missing.
    """
    modules = _modules()
    unknown = kinds - set(modules)
    if unknown:
        raise SystemExit(f"no server module for {sorted(unknown)} in benchmarks/servers/")
    running: dict[str, Server] = {}
    missing: dict[str, str] = {}
    with ExitStack() as stack:
        for kind in sorted(kinds):
            try:
                running[kind] = stack.enter_context(modules[kind].open_server(options))
            except UnavailableError as exc:
                missing[kind] = str(exc)
        yield running, missing
