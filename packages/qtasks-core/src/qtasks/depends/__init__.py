"""Dependency injection for tasks: ``Depends(provider, scope=...)``.

See ``qtasks.depends.marker.Depends`` for what a provider may be and
``qtasks.depends.plugin.DependsPlugin`` for how values are made and torn down.
"""

from qtasks.depends.marker import SCOPES, Dependency, Depends, Scope

__all__ = ["SCOPES", "Dependency", "Depends", "Scope"]
