"""The Storage interface: where task records (status, result, error) are kept."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from typing import Any

from qtasks.interfaces.component import Component
from qtasks.task import Task, TaskStatus

__all__ = ["DEFAULT_RESULT_TTL", "Storage"]

#: Finished records are kept this long (seconds) unless the storage is told otherwise.
DEFAULT_RESULT_TTL = 24 * 60 * 60.0


class Storage(Component, ABC):
    """Task records keyed by uuid, with a way to wait for one to finish.

    ``result_ttl`` bounds how long a finished record is kept (``None`` keeps it forever);
    unfinished records are kept until they finish.
    """

    def __init__(self, *, result_ttl: float | None = DEFAULT_RESULT_TTL) -> None:
        super().__init__()
        self.result_ttl = result_ttl

    @abstractmethod
    async def save(
        self, tasks: Sequence[Task], *, only_if: Collection[TaskStatus] | None = None
    ) -> list[bool]:
        """Write whole records; return, per record, whether it was written.

        With ``only_if``, a record is written only when the stored one is missing or has one
        of those statuses, checked and written atomically. The worker uses it to start a task
        only if nobody cancelled or finished it meanwhile; ``cancel`` uses it to settle a task
        only while it is still queued.
        """

    @abstractmethod
    async def get_many(self, uuids: Sequence[str]) -> list[Task | None]:
        """Load records in the order asked, ``None`` for unknown (or expired) uuids."""

    @abstractmethod
    async def wait(self, uuid: str, timeout: float | None) -> Task | None:
        """Return the record once it is final, or ``None`` if ``timeout`` passes first.

        Implementations are woken by the write that finishes the task (never by a polling
        loop) and must not miss a task that finished before the call.
        """

    @abstractmethod
    async def delete(self, uuids: Sequence[str]) -> int:
        """Remove records; return how many existed."""

    async def get(self, uuid: str) -> Task | None:
        """Load one record."""
        return (await self.get_many([uuid]))[0]

    def encode_task(self, task: Task) -> bytes:
        """Serialize a record with the app's serializer."""
        return self.serializer.dumps(task.to_dict())

    def decode_task(self, data: bytes) -> Task:
        """Rebuild a record written by ``encode_task``."""
        raw: Any = self.serializer.loads(data)
        return Task.from_dict(raw)
