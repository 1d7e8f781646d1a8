"""What ``add_task`` checks before anything is queued.

Due times, keyword clashes, and which argument the serializer refused; kept apart so the app
class reads as its public methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qtasks.exceptions import TaskArgumentError

if TYPE_CHECKING:
    from qtasks.definition import TaskDefinition
    from qtasks.interfaces.serializer import Serializer
    from qtasks.message import TaskMessage

__all__ = ["argument_error", "due_time", "merge_kwargs"]


def merge_kwargs(name: str, kwargs: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` with ``task_kwargs`` added; a name given both ways is an error."""
    clash = set(kwargs) & set(extra)
    if clash:
        raise TypeError(f"task '{name}': {sorted(clash)} given both directly and in task_kwargs")
    return {**kwargs, **extra}


def due_time(
    name: str, delay: float | None, eta: datetime | float | None, now: float
) -> float | None:
    """Epoch seconds at which the task is due (``None``: now), from ``delay`` or ``eta``."""
    if delay is not None and eta is not None:
        raise TypeError(f"task '{name}': give delay= or eta=, not both")
    if delay is not None:
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0:
            raise ValueError(
                f"task '{name}': delay must be a number of seconds >= 0, got {delay!r}"
            )
        return now + delay if delay > 0 else None
    if eta is None:
        return None
    if isinstance(eta, datetime):
        if eta.tzinfo is None:
            raise ValueError(
                f"task '{name}': eta must be timezone-aware (for example "
                "datetime.now(timezone.utc) + timedelta(minutes=5))"
            )
        return eta.timestamp()
    if isinstance(eta, (int, float)) and not isinstance(eta, bool):
        return float(eta)
    raise TypeError(f"task '{name}': eta must be a datetime or epoch seconds, got {eta!r}")


def argument_error(
    serializer: Serializer,
    definition: TaskDefinition | None,
    message: TaskMessage,
    exc: Exception,
) -> TaskArgumentError:
    """The error naming the first argument (or header) ``serializer`` cannot encode."""
    name = message.task_name
    candidates: list[tuple[str, Any]] = []
    for index, value in enumerate(message.args):
        label = definition.argument_label(index) if definition else f"at position {index}"
        candidates.append((label, value))
    candidates += [(f"'{key}'", value) for key, value in message.kwargs.items()]
    candidates += [(f"header '{key}'", value) for key, value in message.headers.items()]
    for label, value in candidates:
        try:
            serializer.dumps(value)
        except (TypeError, ValueError) as inner:
            return TaskArgumentError(name, label, value, str(inner), serializer.name)
    return TaskArgumentError(name, "(combined)", message.args, str(exc), serializer.name)
