"""Plugins from other distributions, found through the ``qtasks.plugins`` entry point group.

Loading is automatic: installing a plugin's distribution is taken as the choice to use it,
the way pytest treats its plugins. Opt out per app with ``QueueTasks(entry_point_plugins=
False)``, pick some by name with ``entry_point_plugins=["name", ...]``, or set the environment
variable ``QTASKS_DISABLE_PLUGIN_AUTOLOAD=1`` to stop it everywhere (an explicit list still
loads). An entry point names a ``Plugin`` subclass (made with no arguments) or a factory
called with the app; one that fails to load is logged and skipped.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from qtasks.plugins.base import Plugin

__all__ = ["DISABLE_ENV", "GROUP", "entry_point_plugins"]

logger = logging.getLogger("qtasks.plugins")

GROUP = "qtasks.plugins"
DISABLE_ENV = "QTASKS_DISABLE_PLUGIN_AUTOLOAD"


@functools.cache
def _declared() -> tuple[EntryPoint, ...]:
    return tuple(sorted(entry_points(group=GROUP), key=lambda ep: ep.name))


def forget() -> None:
    """Read the entry points again next time (after installing a distribution at run time)."""
    _declared.cache_clear()


def entry_point_plugins(app: Any, selection: bool | Sequence[str] | None) -> list[Plugin]:
    """The plugins ``selection`` asks for: ``None`` automatic, ``False`` none, names those."""
    if selection is False:
        return []
    if selection is None or selection is True:
        if selection is None and os.environ.get(DISABLE_ENV, "").strip() not in ("", "0"):
            return []
        chosen = list(_declared())
    else:
        wanted = list(selection)
        by_name = {ep.name: ep for ep in _declared()}
        missing = [name for name in wanted if name not in by_name]
        if missing:
            from qtasks.exceptions import ConfigurationError  # noqa: PLC0415 - import cycle

            raise ConfigurationError(
                f"no '{GROUP}' entry point named {', '.join(map(repr, missing))}; installed: "
                f"{', '.join(sorted(by_name)) or '(none)'}"
            )
        chosen = [by_name[name] for name in wanted]
    plugins = []
    for entry in chosen:
        plugin = _load(entry, app)
        if plugin is not None:
            plugins.append(plugin)
    return plugins


def _load(entry: EntryPoint, app: Any) -> Plugin | None:
    try:
        target = entry.load()
        made = target() if isinstance(target, type) and issubclass(target, Plugin) else target(app)
        if not isinstance(made, Plugin):
            raise TypeError(f"it gave {made!r}, not a qtasks.Plugin")
    except Exception:
        logger.exception("could not load plugin entry point %s = %s", entry.name, entry.value)
        return None
    return made
