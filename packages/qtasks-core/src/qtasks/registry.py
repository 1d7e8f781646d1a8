"""The task registry: names to definitions, with duplicate names refused at import time."""

from __future__ import annotations

from collections.abc import Iterator

from qtasks.definition import TaskDefinition
from qtasks.exceptions import TaskAlreadyRegisteredError, UnknownTaskError

__all__ = ["TaskRegistry"]


class TaskRegistry:
    """Every task an app knows, by name."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskDefinition] = {}

    def register(self, definition: TaskDefinition) -> None:
        """Add ``definition``; a second task with the same name is an error, not an override."""
        existing = self._tasks.get(definition.name)
        if existing is not None:
            raise TaskAlreadyRegisteredError(definition.name, existing.origin, definition.origin)
        self._tasks[definition.name] = definition

    def get(self, name: str) -> TaskDefinition | None:
        """Return the definition or ``None``."""
        return self._tasks.get(name)

    def require(self, name: str) -> TaskDefinition:
        """Return the definition or raise ``UnknownTaskError`` listing the known names."""
        definition = self._tasks.get(name)
        if definition is None:
            raise UnknownTaskError(name, list(self._tasks))
        return definition

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Iterator[TaskDefinition]:
        return iter(list(self._tasks.values()))

    def __len__(self) -> int:
        return len(self._tasks)
