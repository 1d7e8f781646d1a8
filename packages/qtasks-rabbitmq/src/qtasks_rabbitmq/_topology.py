"""Declaring (and deleting) the queues and exchanges of one namespace, each once per process.

A delay of ``d`` ms needs the levels below ``d.bit_length()``; they are declared the first
time a delay that long is sent to a queue, from the bottom up, so a level exists only when
every level under it does (``stats`` and ``purge`` rely on that to stop at the first
missing one). Every declare is idempotent on the server, so processes never coordinate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import aiormq
from aiormq.abc import AbstractChannel

from qtasks_rabbitmq.exceptions import RabbitMQBrokerError
from qtasks_rabbitmq.names import DELAY_LEVELS, Names, delay_bit

__all__ = ["Topology"]

ChannelFactory = Callable[[], Awaitable[AbstractChannel]]


class Topology:
    """What this process has declared, and how to declare the rest."""

    def __init__(self, names: Names, max_priority: int, channel: ChannelFactory) -> None:
        self.names = names
        self.max_priority = max_priority
        self._channel = channel
        self._queues: set[str] = set()
        self._seen: set[str] = set()
        self._levels: dict[str, int] = {}
        self._dead = False
        self._lock = asyncio.Lock()

    def new_loop(self) -> None:
        """Use a fresh lock: the old one may belong to an event loop that has ended."""
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        """Declare everything again from now on (after a reconnect or a delete)."""
        self._queues.clear()
        self._levels.clear()
        self._dead = False

    @property
    def known_queues(self) -> set[str]:
        """QTasks queues this process has declared (and not deleted) since it was made."""
        return set(self._seen)

    async def queue(self, queue: str) -> None:
        """Declare ``queue``'s durable priority work queue."""
        if queue in self._queues:
            return
        async with self._lock:
            if queue in self._queues:
                return
            channel = await self._channel()
            name = self.names.queue(queue)
            try:
                await channel.queue_declare(
                    name, durable=True, arguments={"x-max-priority": self.max_priority}
                )
            except aiormq.exceptions.ChannelPreconditionFailed as exc:
                raise RabbitMQBrokerError(
                    f"RabbitMQ queue '{name}' (QTasks queue '{queue}') exists with other "
                    f"arguments than x-max-priority={self.max_priority} ({exc}); give the "
                    "broker the max_priority it was created with, or delete the queue when "
                    "it is empty"
                ) from exc
            self._queues.add(queue)
            self._seen.add(queue)

    async def dead(self) -> None:
        """Declare the namespace's dead-letter queue."""
        if self._dead:
            return
        channel = await self._channel()
        await channel.queue_declare(self.names.dead, durable=True)
        self._dead = True

    async def delay_levels(self, queue: str, levels: int) -> None:
        """Declare ``queue``'s delay levels ``0 .. levels-1`` and the exchanges above them."""
        await self.queue(queue)
        if self._levels.get(queue, -1) >= levels:
            return
        async with self._lock:
            have = self._levels.get(queue, -1)
            if have >= levels:
                return
            channel = await self._channel()
            names = self.names
            if have < 0:
                bottom = names.delay_exchange(queue, 0)
                await channel.exchange_declare(bottom, exchange_type="headers", durable=True)
                await channel.queue_bind(
                    names.queue(queue), bottom, routing_key="", arguments={"x-match": "all"}
                )
                have = 0
            for level in range(have + 1, levels + 1):
                # Exchange ``level`` reads bit ``level - 1``: set, the message waits in that
                # level's queue; clear, it falls through to the exchange below.
                exchange = names.delay_exchange(queue, level)
                below = level - 1
                await channel.exchange_declare(exchange, exchange_type="headers", durable=True)
                await channel.queue_declare(
                    names.delay_queue(queue, below),
                    durable=True,
                    arguments={
                        "x-message-ttl": 2**below,
                        "x-dead-letter-exchange": names.delay_exchange(queue, below),
                    },
                )
                await channel.queue_bind(
                    names.delay_queue(queue, below),
                    exchange,
                    routing_key="",
                    arguments={"x-match": "all", delay_bit(below): "1"},
                )
                await channel.exchange_bind(
                    names.delay_exchange(queue, below),
                    exchange,
                    routing_key="",
                    arguments={"x-match": "all", delay_bit(below): "0"},
                )
                self._levels[queue] = level

    async def delete(self, queues: Sequence[str], *, dead_letters: bool) -> None:
        """Delete ``queues`` with every delay level they may have, and the dead letters."""
        channel = await self._channel()
        names = self.names
        for queue in queues:
            for level in range(DELAY_LEVELS + 1):
                await channel.exchange_delete(names.delay_exchange(queue, level))
            for level in range(DELAY_LEVELS):
                await channel.queue_delete(names.delay_queue(queue, level))
            await channel.queue_delete(names.queue(queue))
            self._queues.discard(queue)
            self._seen.discard(queue)
            self._levels.pop(queue, None)
        if dead_letters:
            await channel.queue_delete(names.dead)
            self._dead = False
