"""Every benchmarked system, found by module: one file under ``benchmarks/systems/`` each.

A module named without a leading underscore exports ``SYSTEMS``, a tuple of ``System``
subclasses. Adding a broker or a peer library is adding such a file; nothing else lists them.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._base import Environment, System

__all__ = ["Environment", "System", "discover", "get"]


def discover() -> dict[str, type[System]]:
    """Every system by name, QTasks first, then the peers in name order."""
    found: dict[str, type[System]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        systems: tuple[type[System], ...] = getattr(module, "SYSTEMS", ())
        for system in systems:
            if system.name in found:
                raise RuntimeError(
                    f"system name {system.name!r} is defined twice "
                    f"({found[system.name].__module__} and {system.__module__})"
                )
            found[system.name] = system
    return dict(sorted(found.items(), key=lambda item: (item[1].rank, item[0])))


def get(name: str) -> type[System]:
    """The system called ``name``; the error lists the known names."""
    systems = discover()
    try:
        return systems[name]
    except KeyError:
        raise KeyError(f"unknown system {name!r}; known: {', '.join(systems)}") from None
