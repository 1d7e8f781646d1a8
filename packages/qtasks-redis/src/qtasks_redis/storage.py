"""RedisStorage: task records as strings, conditional writes in Lua, waits woken by pub/sub.

A record is stored as ``<status>|<record encoded by the app's serializer>`` so that a script
can check the status of a record (``save(..., only_if=...)``) without knowing the serializer.
A finished record gets the result TTL and is published, whole, on the task's done channel;
``wait`` subscribes to that channel on the shared subscriber connection *before* reading the
record, so a task that finished earlier is found by the read and one that finishes later by
the message.

On a Redis Cluster records (which carry no hash tag) spread over every slot; a batch is then
written, read and deleted with one command per slot it touches (see ``keys.group_by_slot``),
all in one cluster pipeline, while one server gets one command per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import anyio
from typing_extensions import Self

from qtasks.interfaces.storage import Storage
from qtasks.task import FINAL_STATUSES, Task, TaskStatus
from qtasks_redis import keys
from qtasks_redis._component import RedisComponent
from qtasks_redis._connection import (
    CLIENT_ERRORS,
    Command,
    ErrorKinds,
    RedisConnection,
    ScriptCall,
)
from qtasks_redis.exceptions import RedisStorageConnectionError, RedisStorageError

__all__ = ["RedisStorage"]

_ERRORS = ErrorKinds(RedisStorageConnectionError, RedisStorageError)
_UNSET: Any = object()
#: ``<status>|`` per status: the head of a stored value, built once rather than per record.
_HEADS = {status: status.value.encode() + b"|" for status in TaskStatus}
_FINAL_HEADS = tuple(_HEADS[status] for status in FINAL_STATUSES)
#: Records per script call.
_CHUNK = 500


def _ms(seconds: float | None) -> bytes:
    return b"" if seconds is None else b"%d" % max(1, math.ceil(seconds * 1000))


class RedisStorage(RedisComponent, Storage):
    """Task records in Redis, shared by every process of the app.

    ``result_ttl`` (default one day) bounds finished records; ``pending_ttl`` (default a
    week beyond a task's due time) bounds unfinished ones, whose messages may have been
    purged or lost, so no record outlives every bound.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        connection: RedisConnection | None = None,
        result_ttl: float | None = _UNSET,
        pending_ttl: float | None = _UNSET,
        **options: Any,
    ) -> None:
        settings = self._use_connection(url, connection, options).settings
        super().__init__(result_ttl=settings.result_ttl if result_ttl is _UNSET else result_ttl)
        self.pending_ttl = settings.pending_ttl if pending_ttl is _UNSET else pending_ttl

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``redis://...?result_ttl=3600&pending_ttl=none`` (also rediss, unix)."""
        return cls(url, **options)

    # -- encoding ----------------------------------------------------------------------------

    def encode_value(self, task: Task) -> bytes:
        """``<status>|<encoded record>``: what is stored and published."""
        return _HEADS[task.status] + self.encode_task(task)

    def decode_value(self, uuid: str, data: bytes) -> Task:
        """Rebuild a record from ``encode_value`` output."""
        _, sep, payload = data.partition(b"|")
        try:
            if not sep:
                raise ValueError("no status prefix")
            return self.decode_task(payload)
        except (ValueError, TypeError, KeyError) as exc:
            raise RedisStorageError(
                f"the stored record of task {uuid} ({keys.task_key(self.namespace, uuid)}) "
                f"cannot be decoded with {self.serializer.name}: {exc!r}. Was it written by "
                "an app with another serializer?"
            ) from None

    def _record_keys(self, uuids: Iterable[str]) -> list[str]:
        """``keys.task_key`` of each uuid, the namespace escaped once for the whole batch."""
        prefix = keys.task_key(self.namespace, "")
        return [prefix + uuid for uuid in uuids]

    def save_commands(
        self, tasks: Sequence[Task], only_if: Collection[TaskStatus] | None = None
    ) -> list[Command]:
        """Pipeline entries that write ``tasks`` (finished ones are also published)."""
        return self._save_plan(tasks, only_if)[0]

    def _save_plan(
        self, tasks: Sequence[Task], only_if: Collection[TaskStatus] | None
    ) -> tuple[list[Command], list[int] | None]:
        """The script calls that write ``tasks``, and the order their replies come back in.

        One script call per chunk of records: a Python round of packing and parsing per
        command costs more than the server's work, so records travel together. The order
        is ``None`` when the replies follow ``tasks``; otherwise it lists, per reply, the
        position in ``tasks`` of the record it answers for.
        """
        allowed = b""
        if only_if is not None:
            allowed = ("," + ",".join(TaskStatus(s).value for s in only_if) + ",").encode()
        namespace = self.namespace
        prefix_len = len(keys.task_key(namespace, ""))
        channel = keys.done_channel(namespace, "")
        names = self._record_keys(task.uuid for task in tasks)
        final_ms = _ms(self.result_ttl)
        commands: list[Command] = []
        base = self.pending_ttl
        if not self.connection.cluster and (base is None or all(t.eta is None for t in tasks)):
            head = (allowed, final_ms, _ms(base), prefix_len, channel)
            for start in range(0, len(tasks), _CHUNK):
                values = [self.encode_value(task) for task in tasks[start : start + _CHUNK]]
                commands.append(ScriptCall("save", names[start : start + _CHUNK], (*head, *values)))
            return commands, None
        order: list[int] = []
        for pending_ttl, positions in self._groups(tasks, names):
            head = (allowed, final_ms, _ms(pending_ttl), prefix_len, channel)
            for start in range(0, len(positions), _CHUNK):
                part = positions[start : start + _CHUNK]
                values = [self.encode_value(tasks[i]) for i in part]
                commands.append(ScriptCall("save", [names[i] for i in part], (*head, *values)))
                order += part
        return commands, order

    def _groups(
        self, tasks: Sequence[Task], names: Sequence[str]
    ) -> list[tuple[float | None, list[int]]]:
        """Positions of ``tasks`` grouped by record lifetime, and by slot on a cluster.

        A script may only touch keys of one slot on a cluster. An unfinished record outlives
        ``pending_ttl`` by however long its task waits for its ``eta``, so a task delayed for
        a month is not forgotten after a week.
        """
        base = self.pending_ttl
        now = time.time()
        ttls: list[float | None] = []
        for task in tasks:
            if base is None or task.eta is None:
                ttls.append(base)
            else:
                ttls.append(base + math.ceil(max(0.0, task.eta.timestamp() - now)))
        slots = keys.group_by_slot(names) if self.connection.cluster else [list(range(len(tasks)))]
        groups: dict[tuple[int, float | None], list[int]] = {}
        for number, positions in enumerate(slots):
            for position in positions:
                groups.setdefault((number, ttls[position]), []).append(position)
        return [(ttl, positions) for (_, ttl), positions in groups.items()]

    # -- Storage -----------------------------------------------------------------------------

    async def save(
        self, tasks: Sequence[Task], *, only_if: Collection[TaskStatus] | None = None
    ) -> list[bool]:
        """Write records; with ``only_if``, each one only if its stored status allows it."""
        if not tasks:
            return []
        commands, order = self._save_plan(tasks, only_if)
        replies = await self.connection.pipeline(_ERRORS, "store tasks", commands)
        written = [bool(w) for reply in replies for w in reply]
        if order is None:
            return written
        result = [False] * len(tasks)
        for position, flag in zip(order, written, strict=True):
            result[position] = flag
        return result

    async def get_many(self, uuids: Sequence[str]) -> list[Task | None]:
        """Load records in one MGET, ``None`` for unknown or expired ones."""
        if not uuids:
            return []
        names = self._record_keys(uuids)
        if self.connection.cluster:
            values = await self._get_by_slot(names)
        else:
            (values,) = await self.connection.pipeline(_ERRORS, "load tasks", [("MGET", *names)])
        return [
            None if value is None else self.decode_value(uuid, value)
            for uuid, value in zip(uuids, values, strict=True)
        ]

    async def delete(self, uuids: Sequence[str]) -> int:
        """Remove records; return how many existed."""
        if not uuids:
            return 0
        names = self._record_keys(uuids)
        groups = keys.group_by_slot(names) if self.connection.cluster else [range(len(names))]
        removed = await self.connection.pipeline(
            _ERRORS, "delete tasks", [("DEL", *(names[i] for i in group)) for group in groups]
        )
        return sum(int(count) for count in removed)

    async def _get_by_slot(self, names: Sequence[str]) -> list[bytes | None]:
        """MGET once per cluster slot, the values put back in the order of ``names``."""
        groups = keys.group_by_slot(names)
        replies = await self.connection.pipeline(
            _ERRORS, "load tasks", [("MGET", *(names[i] for i in group)) for group in groups]
        )
        values: list[bytes | None] = [None] * len(names)
        for group, reply in zip(groups, replies, strict=True):
            for position, value in zip(group, reply, strict=True):
                values[position] = value
        return values

    async def wait(self, uuid: str, timeout: float | None) -> Task | None:
        """Return the final record once it is written, or ``None`` after ``timeout``."""
        loop = asyncio.get_running_loop()
        arrived: asyncio.Future[bytes] = loop.create_future()
        channel = keys.done_channel(self.namespace, uuid)
        rechecks: set[asyncio.Task[None]] = set()

        def deliver(data: bytes | None) -> None:
            if arrived.done():
                return
            if data is not None:
                arrived.set_result(data)
                return
            # Reconnected after an outage: the finishing write may have been missed.
            check = asyncio.ensure_future(self._recheck(uuid, arrived))
            rechecks.add(check)
            check.add_done_callback(rechecks.discard)

        connection = self.connection
        subscriber = (
            connection.subscriber_for(keys.task_key(self.namespace, uuid))
            if connection.cluster
            else connection.subscriber
        )
        with anyio.move_on_after(math.inf if timeout is None else timeout):
            try:
                try:
                    await subscriber.subscribe(channel, deliver)
                except CLIENT_ERRORS as exc:
                    raise self.connection.wrap(exc, _ERRORS, f"wait for task {uuid}") from exc
                record = await self.get(uuid)
                if record is not None and record.is_finished:
                    return record
                data = await arrived
                return self.decode_value(uuid, data)
            finally:
                subscriber.unsubscribe(channel, deliver)
                for check in list(rechecks):
                    check.cancel()
        return None

    async def _recheck(self, uuid: str, arrived: asyncio.Future[bytes]) -> None:
        key = keys.task_key(self.namespace, uuid)
        with contextlib.suppress(*CLIENT_ERRORS):
            value: bytes | None = await self.connection.client.execute_command("GET", key)
            if value is not None and value.startswith(_FINAL_HEADS) and not arrived.done():
                arrived.set_result(value)
