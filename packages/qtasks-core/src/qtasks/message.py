"""The task message: the self-contained envelope a broker carries from producer to worker.

A message holds everything a worker needs to run the task and to write its whole record, so
no worker ever reads storage before running a task. Retries travel as new messages carrying
the attempt number and the history of earlier attempts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qtasks.exceptions import MessageDecodeError
from qtasks.interfaces.serializer import Serializer
from qtasks.task import Attempt, Task, TaskStatus, _dt

__all__ = ["WIRE_VERSION", "TaskMessage"]

#: Bumped when the envelope changes incompatibly; a worker rejects versions it does not know.
WIRE_VERSION = 1


@dataclass(slots=True)
class TaskMessage:
    """One task on the wire."""

    uuid: str
    task_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    priority: int
    queue: str
    created_at: float
    attempt: int = 1
    parent_uuid: str | None = None
    eta: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """Return the plain dict that the serializer encodes."""
        wire: dict[str, Any] = {
            "v": WIRE_VERSION,
            "uuid": self.uuid,
            "task": self.task_name,
            "args": self.args,
            "kwargs": self.kwargs,
            "priority": self.priority,
            "queue": self.queue,
            "created_at": self.created_at,
            "attempt": self.attempt,
        }
        if self.parent_uuid is not None:
            wire["parent"] = self.parent_uuid
        if self.eta is not None:
            wire["eta"] = self.eta
        if self.history:
            wire["history"] = self.history
        if self.headers:
            wire["headers"] = self.headers
        return wire

    def encode(self, serializer: Serializer) -> bytes:
        """Serialize the message; ``TypeError``/``ValueError`` for unencodable arguments."""
        return serializer.dumps(self.to_wire())

    @classmethod
    def decode(cls, data: bytes, serializer: Serializer) -> TaskMessage:
        """Parse and validate bytes from a queue.

        Raises ``MessageDecodeError`` with a reason a person can act on; the worker puts the
        bytes and that reason in the dead-letter place.
        """
        try:
            raw = serializer.loads(data)
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise MessageDecodeError(
                f"cannot decode message with {serializer.name}: {exc}"
            ) from None
        return cls.from_wire(raw)

    @classmethod
    def from_wire(cls, raw: Any) -> TaskMessage:
        """Validate decoded plain data and build a message from it."""
        if not isinstance(raw, dict):
            raise MessageDecodeError(f"message must be a mapping, got {type(raw).__name__}")
        version = raw.get("v")
        if version != WIRE_VERSION:
            raise MessageDecodeError(
                f"unsupported message version {version!r} (this worker reads {WIRE_VERSION})"
            )
        uuid = _field(raw, "uuid", str)
        task_name = _field(raw, "task", str)
        args = _field(raw, "args", (list, tuple))
        kwargs = _field(raw, "kwargs", dict)
        priority = _field(raw, "priority", int)
        queue = _field(raw, "queue", str)
        created_at = _field(raw, "created_at", (int, float))
        attempt = _field(raw, "attempt", int)
        parent = raw.get("parent")
        if parent is not None and not isinstance(parent, str):
            raise MessageDecodeError("field 'parent' must be a string")
        eta = raw.get("eta")
        if eta is not None and (not isinstance(eta, (int, float)) or isinstance(eta, bool)):
            raise MessageDecodeError("field 'eta' must be a number")
        history = raw.get("history", [])
        if not isinstance(history, list):
            raise MessageDecodeError("field 'history' must be a list")
        try:
            for item in history:
                Attempt.from_dict(item)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise MessageDecodeError(
                f"field 'history' holds a malformed attempt: {exc!r}"
            ) from None
        headers = raw.get("headers", {})
        if not isinstance(headers, dict):
            raise MessageDecodeError("field 'headers' must be a mapping")
        if not all(isinstance(key, str) for key in kwargs):
            raise MessageDecodeError("field 'kwargs' must have string keys")
        return cls(
            uuid=uuid,
            task_name=task_name,
            args=tuple(args),
            kwargs=kwargs,
            priority=priority,
            queue=queue,
            created_at=float(created_at),
            attempt=max(1, attempt),
            parent_uuid=parent,
            eta=None if eta is None else float(eta),
            history=history,
            headers=headers,
        )

    def record(self, status: TaskStatus, *, retries: int = 0) -> Task:
        """Build the full Task record this message describes, in ``status``."""
        created = _dt(self.created_at)
        assert created is not None
        return Task(
            uuid=self.uuid,
            task_name=self.task_name,
            status=status,
            priority=self.priority,
            queue=self.queue,
            args=self.args,
            kwargs=self.kwargs,
            parent_uuid=self.parent_uuid,
            headers=self.headers,
            created_at=created,
            updated_at=created,
            eta=_dt(self.eta),
            retries=retries,
            attempts=[Attempt.from_dict(a) for a in self.history],
        )


def _field(raw: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in raw:
        raise MessageDecodeError(f"missing field '{name}'")
    value = raw[name]
    if isinstance(value, bool) and kind is not bool:
        raise MessageDecodeError(f"field '{name}' must be {_kind_name(kind)}, got bool")
    if not isinstance(value, kind):
        raise MessageDecodeError(
            f"field '{name}' must be {_kind_name(kind)}, got {type(value).__name__}"
        )
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__
