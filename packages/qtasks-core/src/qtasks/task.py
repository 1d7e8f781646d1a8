"""The Task record: what storage keeps about one queued task, and what callers get back.

A record is rebuilt from plain data (``to_dict``/``from_dict``) by every storage, so it holds
only serializable values. Waiting is delegated to a ``ResultWaiter`` that the app attaches when
it hands a record out; a record loaded by hand has none and says so instead of blocking forever.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Protocol

__all__ = [
    "FINAL_STATUSES",
    "QUEUED_STATUSES",
    "STARTABLE_STATUSES",
    "Attempt",
    "ResultWaiter",
    "Task",
    "TaskStatus",
]


class TaskStatus(str, Enum):
    """Lifecycle of a task; compares equal to its string (``task.status == "success"``)."""

    NEW = "new"
    PROCESS = "process"
    SUCCESS = "success"
    ERROR = "error"
    CANCEL = "cancel"
    RETRY = "retry"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def is_final(self) -> bool:
        """Whether the task will not run again (success, error or cancel)."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({TaskStatus.SUCCESS, TaskStatus.ERROR, TaskStatus.CANCEL})
#: Statuses a worker may move to ``process``: anything not final. ``process`` is included so
#: that a task whose worker died mid-run can be started again by the next delivery.
STARTABLE_STATUSES = frozenset({TaskStatus.NEW, TaskStatus.RETRY, TaskStatus.PROCESS})
#: Statuses in which a task is still only queued, so a cancel can settle it without a worker.
QUEUED_STATUSES = frozenset({TaskStatus.NEW, TaskStatus.RETRY})

_UTC = timezone.utc


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(float(value), _UTC)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (the only kind a record holds)."""
    return datetime.now(_UTC)


class ResultWaiter(Protocol):
    """Something that can wait for a task to finish: the app that created the record."""

    def block_until_final(self, uuid: str, timeout: float | None) -> Task:
        """Block until the task is final; raise ``TaskTimeoutError`` after ``timeout``."""
        ...

    async def await_final(self, uuid: str, timeout: float | None) -> Task:
        """Wait until the task is final; raise ``TaskTimeoutError`` after ``timeout``."""
        ...


@dataclass
class Attempt:
    """One run of a task: kept so a retried task shows every failure that led to the retry."""

    number: int
    status: TaskStatus
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return plain data for storage."""
        return {
            "number": self.number,
            "status": self.status.value,
            "started_at": _ts(self.started_at),
            "finished_at": _ts(self.finished_at),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        """Rebuild an attempt from ``to_dict`` output."""
        return cls(
            number=int(data["number"]),
            status=TaskStatus(data["status"]),
            started_at=_dt(data.get("started_at")),
            finished_at=_dt(data.get("finished_at")),
            error=data.get("error"),
        )


@dataclass(eq=False)
class Task:
    """The stored state of one task.

    ``returning`` is the result once ``status`` is success; ``error`` and ``traceback`` describe
    the last failure; ``retries`` counts extra runs (error retries and redeliveries alike);
    ``progress`` holds the values a generator task has yielded so far. ``headers`` is plain
    data the producer attached (``add_task(..., headers={...})``); a timer, for example,
    records there which schedule and tick queued the task.
    """

    uuid: str
    task_name: str
    status: TaskStatus
    priority: int = 0
    queue: str = "default"
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    returning: Any = None
    error: str | None = None
    traceback: str | None = None
    cancel_reason: str | None = None
    parent_uuid: str | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    eta: datetime | None = None
    retries: int = 0
    progress: list[Any] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    _waiter: ResultWaiter | None = field(default=None, repr=False, compare=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Task):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable record

    def __repr__(self) -> str:
        parts = [
            f"status={self.status.value!r}",
            f"uuid={self.uuid!r}",
            f"task_name={self.task_name!r}",
        ]
        if self.status is TaskStatus.SUCCESS:
            parts.append(f"returning={self.returning!r}")
        if self.error is not None:
            parts.append(f"error={self.error!r}")
        if self.cancel_reason is not None:
            parts.append(f"cancel_reason={self.cancel_reason!r}")
        if self.retries:
            parts.append(f"retries={self.retries}")
        return f"Task({', '.join(parts)})"

    @property
    def is_finished(self) -> bool:
        """Whether the task reached a final status (success, error or cancel)."""
        return self.status in FINAL_STATUSES

    def wait_result(self, timeout: float | None = None) -> Task:
        """Block until the task is final and return the final record, whatever its status.

        Raises ``TaskTimeoutError`` (naming the task and uuid) if ``timeout`` passes first.
        """
        return self._require_waiter().block_until_final(self.uuid, timeout)

    async def wait_result_async(self, timeout: float | None = None) -> Task:
        """Awaitable twin of ``wait_result``."""
        return await self._require_waiter().await_final(self.uuid, timeout)

    def _require_waiter(self) -> ResultWaiter:
        if self._waiter is None:
            raise RuntimeError(
                f"task {self.uuid} was not obtained from an app, so it cannot wait; "
                "use app.get(uuid) or app.wait_result(uuid, timeout) instead"
            )
        return self._waiter

    def with_waiter(self, waiter: ResultWaiter | None) -> Task:
        """Return this record bound to ``waiter`` (the record itself is not copied)."""
        self._waiter = waiter
        return self

    def copy(self, **changes: Any) -> Task:
        """Return a shallow copy with ``changes`` applied."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return plain data for a storage to serialize."""
        return {
            "uuid": self.uuid,
            "task_name": self.task_name,
            "status": self.status.value,
            "priority": self.priority,
            "queue": self.queue,
            "args": list(self.args),
            "kwargs": self.kwargs,
            "returning": self.returning,
            "error": self.error,
            "traceback": self.traceback,
            "cancel_reason": self.cancel_reason,
            "parent_uuid": self.parent_uuid,
            "headers": self.headers,
            "created_at": self.created_at.timestamp(),
            "updated_at": self.updated_at.timestamp(),
            "started_at": _ts(self.started_at),
            "finished_at": _ts(self.finished_at),
            "eta": _ts(self.eta),
            "retries": self.retries,
            "progress": self.progress,
            "attempts": [a.to_dict() for a in self.attempts],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """Rebuild a record from ``to_dict`` output (as decoded by a serializer)."""
        created = _dt(data["created_at"])
        updated = _dt(data.get("updated_at"))
        assert created is not None
        return cls(
            uuid=data["uuid"],
            task_name=data["task_name"],
            status=TaskStatus(data["status"]),
            priority=int(data.get("priority", 0)),
            queue=data.get("queue", "default"),
            args=tuple(data.get("args") or ()),
            kwargs=dict(data.get("kwargs") or {}),
            returning=data.get("returning"),
            error=data.get("error"),
            traceback=data.get("traceback"),
            cancel_reason=data.get("cancel_reason"),
            parent_uuid=data.get("parent_uuid"),
            headers=dict(data.get("headers") or {}),
            created_at=created,
            updated_at=updated or created,
            started_at=_dt(data.get("started_at")),
            finished_at=_dt(data.get("finished_at")),
            eta=_dt(data.get("eta")),
            retries=int(data.get("retries", 0)),
            progress=list(data.get("progress") or []),
            attempts=[Attempt.from_dict(a) for a in data.get("attempts") or []],
        )
