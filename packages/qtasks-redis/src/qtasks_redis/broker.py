"""RedisBroker: priority queues with delays, leases and dead letters, one Lua script per step.

Every step that moves a message is one script on one queue's keys (see ``keys.py``), so it is
atomic and costs one round trip: ``enqueue`` (body, index and ready or delayed zset),
``fetch`` (promote due delayed messages, take back expired leases, pop the best ready ones
into the in-flight zset), ``ack``, ``nack``, ``heartbeat``, ``dead_letter``. ``publish`` and
``settle`` put the storage writes and these scripts in a single pipeline.

An idle consumer blocks on the queue's wake list (BLPOP) for no longer than the next delayed
message or lease deadline, and the fetch that follows rides in the same pipeline. One BLPOP
names the wake lists of every queue a consumer serves; on a Redis Cluster, where those lists
sit in different slots, the consumer keeps one BLPOP per queue instead (see ``_Wakers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from typing_extensions import Self

from qtasks.interfaces.broker import Broker, DeadLetter, Delivery, OutgoingMessage, QueueStats
from qtasks_redis import keys
from qtasks_redis._component import RedisComponent
from qtasks_redis._connection import Command, ErrorKinds, RedisConnection, ScriptCall
from qtasks_redis._options import RedisSettings
from qtasks_redis.exceptions import RedisBrokerConnectionError, RedisBrokerError

if TYPE_CHECKING:
    from qtasks.interfaces.storage import Storage
    from qtasks.task import Task
    from qtasks_redis.global_config import RedisGlobalConfig
    from qtasks_redis.storage import RedisStorage

__all__ = ["RedisBroker"]

_ERRORS = ErrorKinds(RedisBrokerConnectionError, RedisBrokerError)
#: Messages per script call: keeps each call short so the server stays responsive.
_CHUNK = 500
#: Delayed messages and expired leases one fetch moves at most.
_MOVE_CAP = 1000
#: The most messages one receive returns.
_MAX_FETCH = 1000


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RedisBroker(RedisComponent, Broker):
    """Task queues in Redis with at-least-once delivery.

    Build it from a URL (``RedisBroker("redis://127.0.0.1:6379/0?visibility_timeout=60")``)
    or keyword options (see ``RedisSettings``). Its ``default_storage`` and
    ``default_global_config`` share its connection pool, so
    ``QueueTasks(broker="redis://...")`` keeps everything in one Redis.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        connection: RedisConnection | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        connection = self._use_connection(url, connection, options)
        self._queue_keys: dict[str, keys.QueueKeys] = {}
        self._known_queues: set[str] = set()
        self._wakers = _Wakers(connection)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``redis://[user:password@]host[:port][/db][?option=value...]`` (also rediss, unix)."""
        return cls(url, **options)

    @property
    def settings(self) -> RedisSettings:
        """The settings of the shared connection."""
        return self.connection.settings

    @property
    def visibility_timeout(self) -> float:  # type: ignore[override]  # read-only here
        """Seconds a delivery stays with its worker without a heartbeat (workers beat within)."""
        return self.settings.visibility_timeout

    def default_storage(self) -> RedisStorage:
        """A RedisStorage on this broker's connection pool."""
        from qtasks_redis.storage import RedisStorage  # noqa: PLC0415 - import cycle

        return RedisStorage(connection=self.connection)

    def default_global_config(self) -> RedisGlobalConfig:
        """A RedisGlobalConfig on this broker's connection pool."""
        from qtasks_redis.global_config import RedisGlobalConfig  # noqa: PLC0415

        return RedisGlobalConfig(connection=self.connection)

    def bind(self, namespace: str, serializer: Any) -> None:
        """Take the app's name (the key namespace) and forget keys built for another one."""
        super().bind(namespace, serializer)
        self._queue_keys.clear()
        self._known_queues.clear()

    async def stop(self) -> None:
        """Cancel the standing cluster BLPOPs, then leave the shared connection."""
        if self._started:
            await self._wakers.close()
        await super().stop()

    def _keys(self, queue: str) -> keys.QueueKeys:
        found = self._queue_keys.get(queue)
        if found is None:
            found = self._queue_keys[queue] = keys.queue_keys(self.namespace, queue)
        return found

    async def _pipeline(self, doing: str, commands: Sequence[Command]) -> list[Any]:
        return await self.connection.pipeline(_ERRORS, doing, commands)

    # -- sending -----------------------------------------------------------------------------

    def send_commands(self, messages: Sequence[OutgoingMessage]) -> tuple[list[Command], set[str]]:
        """The pipeline entries that enqueue ``messages``, and the queues first seen here."""
        by_queue: dict[str, list[Any]] = {}
        for message in messages:
            args = by_queue.get(message.queue)
            if args is None:
                args = by_queue[message.queue] = []
            eta = b"" if message.eta is None else repr(float(message.eta)).encode()
            args += (message.uuid, b"%d" % message.priority, eta, message.body)
        commands: list[Command] = []
        new = by_queue.keys() - self._known_queues
        if new:
            commands.append(("SADD", keys.queues_key(self.namespace), *sorted(new)))
        for queue, args in by_queue.items():
            queue_keys = self._keys(queue).all()
            commands += [ScriptCall("enqueue", queue_keys, c) for c in _chunks(args, 4 * _CHUNK)]
        return commands, set(new)

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Enqueue ``messages`` in one round trip."""
        commands, new = self.send_commands(messages)
        await self._pipeline("enqueue tasks", commands)
        self._known_queues |= new

    async def publish(
        self, storage: Storage, records: Sequence[Task], messages: Sequence[OutgoingMessage]
    ) -> None:
        """Store the records and enqueue the messages in one pipeline (records first)."""
        from qtasks_redis.storage import RedisStorage  # noqa: PLC0415

        if not (isinstance(storage, RedisStorage) and storage.connection is self.connection):
            await super().publish(storage, records, messages)
            return
        commands = storage.save_commands(records)
        sends, new = self.send_commands(messages)
        # On a cluster the records are written before any message that names them is sent.
        await self.connection.pipeline(
            _ERRORS, "enqueue tasks", [*commands, *sends], stages=(len(commands),)
        )
        self._known_queues |= new

    async def settle(
        self,
        storage: Storage,
        records: Sequence[Task],
        acks: Sequence[Delivery],
        sends: Sequence[OutgoingMessage] = (),
    ) -> None:
        """Store results, enqueue retries and ack, in that order, in one pipeline."""
        from qtasks_redis.storage import RedisStorage  # noqa: PLC0415

        if not (isinstance(storage, RedisStorage) and storage.connection is self.connection):
            await super().settle(storage, records, acks, sends)
            return
        commands = storage.save_commands(records)
        stages = [len(commands)]
        new: set[str] = set()
        if sends:
            more, new = self.send_commands(sends)
            commands += more
            stages.append(len(commands))
        commands += self._per_queue("ack", acks, lambda d: d.receipt)
        # On a cluster: results, then retries, then acks, each stage after the one before.
        await self.connection.pipeline(
            _ERRORS, "store results and acknowledge tasks", commands, stages=stages
        )
        self._known_queues |= new

    def _per_queue(
        self,
        script: str,
        deliveries: Sequence[Delivery],
        args_of: Callable[[Delivery], Sequence[Any]],
        head: Sequence[Any] = (),
    ) -> list[Command]:
        """One ``script`` call per queue and chunk of deliveries: ``head``, then their args."""
        by_queue: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_queue.setdefault(delivery.queue, []).append(delivery)
        commands: list[Command] = []
        for queue, queued in by_queue.items():
            queue_keys = self._keys(queue).all()
            commands += [
                ScriptCall(script, queue_keys, [*head, *(a for d in chunk for a in args_of(d))])
                for chunk in _chunks(queued, _CHUNK)
            ]
        return commands

    # -- receiving ---------------------------------------------------------------------------

    async def receive(
        self, queues: Sequence[str], max_messages: int, timeout: float
    ) -> list[Delivery]:
        """Take up to ``max_messages``, blocking (not polling) up to ``timeout`` seconds."""
        limit = max(0, min(int(max_messages), _MAX_FETCH))
        if limit == 0 or not queues:
            return []
        if len(queues) == 1:
            return await self._receive_one(queues[0], limit, timeout)
        return await self._receive_many(list(queues), limit, timeout)

    def _fetch(self, queue: str, limit: int) -> ScriptCall:
        return ScriptCall(
            "fetch", self._keys(queue).all(), (limit, self.settings.visibility_timeout, _MOVE_CAP)
        )

    def _block_for(self, deadline: float, wake_at: float | None) -> float | None:
        """Seconds to block before looking again, or ``None`` when the time is up."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        cap = self.settings.socket_timeout
        block = remaining if cap is None else min(remaining, cap / 2)
        if wake_at is not None:
            block = min(block, max(0.0, wake_at - time.time()) + 0.002)
        return max(block, 0.001)

    async def _receive_one(self, queue: str, limit: int, timeout: float) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        fetch = self._fetch(queue, limit)
        commands: list[Command] = [fetch]
        wake = self._keys(queue).wake
        while True:
            reply = (await self._pipeline("fetch tasks", commands))[-1]
            wake_at, deliveries = self._parse_fetch(queue, reply)
            if deliveries:
                return deliveries
            block = self._block_for(deadline, wake_at)
            if block is None:
                return []
            commands = [("BLPOP", wake, f"{block:.3f}"), fetch]

    async def _receive_many(self, queues: list[str], limit: int, timeout: float) -> list[Delivery]:
        # Priorities hold across queues: peek at the head of every queue, then take from each
        # the share that belongs to the overall best ``limit``.
        deadline = time.monotonic() + timeout
        peek: list[Command] = []
        for queue in queues:
            peek.append(self._fetch(queue, 0))
            peek.append(("ZRANGE", self._keys(queue).ready, 0, limit - 1, "WITHSCORES"))
        commands = list(peek)
        wakes = [self._keys(q).wake for q in queues]
        while True:
            replies = (await self._pipeline("fetch tasks", commands))[-len(peek) :]
            wake_at: float | None = None
            heads: list[tuple[float, int]] = []
            for index in range(len(queues)):
                moment = replies[2 * index][0]
                if moment:
                    wake_at = min(float(moment), wake_at or float("inf"))
                heads += [(score, index) for score in _scores(replies[2 * index + 1])]
            if heads:
                heads.sort()
                share = [0] * len(queues)
                for _, index in heads[:limit]:
                    share[index] += 1
                takes = [(i, n) for i, n in enumerate(share) if n]
                got = await self._pipeline(
                    "fetch tasks", [self._fetch(queues[i], n) for i, n in takes]
                )
                found: list[tuple[int, int, Delivery]] = []
                for (index, _), reply in zip(takes, got, strict=True):
                    for order, delivery in enumerate(self._parse_fetch(queues[index], reply)[1]):
                        found.append((index, order, delivery))
                if found:
                    found.sort(key=lambda f: (f[2].priority, f[0], f[1]))
                    return [f[2] for f in found]
            block = self._block_for(deadline, wake_at)
            if block is None:
                return []
            if self.connection.cluster:
                await self._wakers.wait(wakes, block)
                commands = list(peek)
            else:
                commands = [("BLPOP", *wakes, f"{block:.3f}"), *peek]

    @staticmethod
    def _parse_fetch(queue: str, reply: list[Any]) -> tuple[float | None, list[Delivery]]:
        wake_at = float(reply[0]) if reply[0] else None
        deliveries = []
        for i in range(1, len(reply), 3):
            mid: bytes = reply[i]
            count: int = reply[i + 2]
            priority, uuid = keys.parse_message_id(mid)
            deliveries.append(
                Delivery(
                    body=reply[i + 1],
                    queue=queue,
                    receipt=(mid, count),
                    delivery_count=count,
                    uuid=uuid,
                    priority=priority,
                )
            )
        return wake_at, deliveries

    # -- settling ----------------------------------------------------------------------------

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Forget finished deliveries (a stale receipt, already redelivered, is ignored)."""
        await self._pipeline(
            "acknowledge tasks", self._per_queue("ack", deliveries, lambda d: d.receipt)
        )

    async def nack(
        self, deliveries: Sequence[Delivery], *, delay: float = 0.0, counted: bool = True
    ) -> None:
        """Put deliveries back at their old place, or delayed by ``delay`` seconds."""
        head = (max(0.0, delay), 1 if counted else 0)
        await self._pipeline(
            "hand tasks back",
            self._per_queue("nack", deliveries, lambda d: d.receipt, head=head),
        )

    async def heartbeat(self, deliveries: Sequence[Delivery]) -> None:
        """Move the visibility deadline of ``deliveries`` to now + visibility_timeout."""
        await self._pipeline(
            "extend task leases",
            self._per_queue(
                "heartbeat",
                deliveries,
                lambda d: (d.receipt[0],),
                head=(self.settings.visibility_timeout,),
            ),
        )

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move the delivery into its queue's dead-letter stream with ``reason``."""
        settings = self.settings
        mid, count = delivery.receipt
        args = (
            mid,
            count,
            reason,
            b"" if settings.dead_letter_max is None else settings.dead_letter_max,
            b"" if settings.dead_letter_ttl is None else repr(float(settings.dead_letter_ttl)),
        )
        await self._pipeline(
            "dead-letter a task",
            [ScriptCall("dead_letter", self._keys(delivery.queue).all(), args)],
        )

    # -- dead letters ------------------------------------------------------------------------

    async def _queues_or(self, queue: str | None) -> list[str]:
        if queue is not None:
            return [queue]
        (members,) = await self._pipeline(
            "list queues", [("SMEMBERS", keys.queues_key(self.namespace))]
        )
        return sorted(m.decode() for m in members)

    async def _dead_entries(
        self, queue: str | None, limit: int | None
    ) -> list[tuple[DeadLetter, bytes]]:
        queues = await self._queues_or(queue)
        count = () if limit is None else ("COUNT", limit)
        replies = await self._pipeline(
            "read dead letters", [("XRANGE", self._keys(q).dead, "-", "+", *count) for q in queues]
        )
        found: list[tuple[DeadLetter, bytes]] = []
        for name, entries in zip(queues, replies, strict=True):
            for entry_id, fields in entries:
                get = fields.get if isinstance(fields, dict) else dict(_pairs(fields)).get
                uuid = get(b"uuid") or b""
                found.append(
                    (
                        DeadLetter(
                            body=get(b"body") or b"",
                            queue=name,
                            reason=(get(b"reason") or b"").decode(errors="replace"),
                            uuid=uuid.decode() or None,
                            dead_at=float(get(b"at") or 0),
                            priority=int(get(b"priority") or 0),
                        ),
                        entry_id,
                    )
                )
        found.sort(key=lambda f: f[0].dead_at)
        return found if limit is None else found[:limit]

    async def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Dead letters, oldest first, of one queue or of every queue this app used."""
        return [dead for dead, _ in await self._dead_entries(queue, limit)]

    async def requeue_dead(self, queue: str | None = None, limit: int | None = None) -> int:
        """Send dead letters back to their queues (oldest first) with a fresh count."""
        chosen = await self._dead_entries(queue, limit)
        by_queue: dict[str, list[bytes]] = {}
        for dead, entry_id in chosen:
            by_queue.setdefault(dead.queue, []).append(entry_id)
        commands: list[Command] = []
        for name, ids in by_queue.items():
            queue_keys = self._keys(name).all()
            commands += [ScriptCall("requeue_dead", queue_keys, c) for c in _chunks(ids, _CHUNK)]
        return sum(await self._pipeline("requeue dead letters", commands))

    # -- management --------------------------------------------------------------------------

    async def cancel(self, uuid: str, queue: str) -> bool:
        """Remove a message still waiting in ``queue`` (ready or delayed)."""
        (removed,) = await self._pipeline(
            "cancel a task", [ScriptCall("cancel", self._keys(queue).all(), (uuid,))]
        )
        return bool(removed)

    async def stats(self, queues: Sequence[str]) -> list[QueueStats]:
        """Ready per priority, delayed, in flight and dead, per queue (due work promoted)."""
        commands: list[Command] = []
        for queue in queues:
            commands.append(self._fetch(queue, 0))
            commands.append(ScriptCall("stats", self._keys(queue).all(), ()))
        replies = await self._pipeline("count queued tasks", commands)
        out = []
        for index, queue in enumerate(queues):
            reply = replies[2 * index + 1]
            ready = {int(reply[i]): int(reply[i + 1]) for i in range(3, len(reply), 2)}
            out.append(QueueStats(queue, ready, int(reply[0]), int(reply[1]), int(reply[2])))
        return out

    async def purge(self, queues: Sequence[str]) -> int:
        """Drop ready and delayed messages (in batches, so Redis stays responsive)."""
        dropped = 0
        pending = list(queues)
        while pending:
            replies = await self._pipeline(
                "purge queues",
                [ScriptCall("purge", self._keys(q).all(), (_CHUNK,)) for q in pending],
            )
            dropped += sum(replies)
            pending = [q for q, n in zip(pending, replies, strict=True) if n]
        return dropped

    async def known_queues(self) -> list[str]:
        """Every queue this app has sent to (kept in Redis, so other processes' too)."""
        return await self._queues_or(None)


class _Wakers:
    """Standing BLPOPs, one per wake list, for a cluster consumer of several queues.

    A cluster refuses a BLPOP whose keys sit in different slots, and the wake lists of two
    queues do. So each list gets its own BLPOP (its own pooled connection), and ``wait``
    returns when any of them pops a token or ``block`` seconds pass. The others are left
    running rather than cancelled: a cancelled BLPOP costs its connection, and the next
    wait takes them over (a token one popped meanwhile ends that wait at once, so none is
    lost). ``close`` cancels whatever still runs.
    """

    def __init__(self, connection: RedisConnection) -> None:
        self._connection = connection
        self._pending: dict[str, asyncio.Task[Any]] = {}

    async def wait(self, wakes: Sequence[str], block: float) -> None:
        tasks = []
        for wake in wakes:
            task = self._pending.get(wake)
            if task is None:
                task = self._pending[wake] = asyncio.ensure_future(
                    self._connection.call(_ERRORS, "wait for tasks", "BLPOP", wake, f"{block:.3f}")
                )
            tasks.append(task)
        done, _ = await asyncio.wait(tasks, timeout=block, return_when=asyncio.FIRST_COMPLETED)
        for wake, task in list(self._pending.items()):
            if task in done:
                del self._pending[wake]
        errors = [task.exception() for task in done]
        for error in errors:
            if error is not None:
                raise error  # an outage, as a single BLPOP would report it

    async def close(self) -> None:
        pending = list(self._pending.values())
        self._pending.clear()
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _scores(reply: Sequence[Any]) -> list[float]:
    """Scores of a ZRANGE ... WITHSCORES reply, flat or paired (redis-py versions differ)."""
    if reply and isinstance(reply[0], (list, tuple)):
        return [float(pair[1]) for pair in reply]
    return [float(score) for score in reply[1::2]]


def _pairs(flat: Sequence[Any]) -> Iterable[tuple[Any, Any]]:
    return zip(flat[0::2], flat[1::2], strict=True)
