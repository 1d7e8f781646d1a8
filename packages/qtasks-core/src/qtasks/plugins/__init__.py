"""Plugins: hooks on every event of the runtime, and the built-ins that use them.

``Plugin`` is the base class (see ``qtasks.plugins.base`` for every hook). ``RetryPlugin``
and ``DependsPlugin`` ship with every app; ``EventsPlugin`` joins when an event callback is
registered. ``AsyncState`` and ``SyncState`` are here too, since State injection is a plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qtasks.plugins._manager import Plugins
from qtasks.plugins.base import Plugin
from qtasks.plugins.retry import RetryPlugin
from qtasks.state import AsyncState, SyncState

if TYPE_CHECKING:
    from qtasks.depends.plugin import DependsPlugin
    from qtasks.events import EventsPlugin

__all__ = [
    "AsyncState",
    "DependsPlugin",
    "EventsPlugin",
    "Plugin",
    "Plugins",
    "RetryPlugin",
    "SyncState",
]


def __getattr__(name: str) -> Any:
    # These two build on Plugin; importing them lazily keeps this package importable from
    # the modules that define them.
    if name == "DependsPlugin":
        from qtasks.depends.plugin import DependsPlugin  # noqa: PLC0415

        return DependsPlugin
    if name == "EventsPlugin":
        from qtasks.events import EventsPlugin  # noqa: PLC0415

        return EventsPlugin
    raise AttributeError(f"module 'qtasks.plugins' has no attribute {name!r}")
