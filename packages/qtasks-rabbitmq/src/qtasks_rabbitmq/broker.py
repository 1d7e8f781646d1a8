"""RabbitMQBroker: durable priority queues with confirms, plugin-free delays, dead letters.

One robust connection (``aio_pika.connect_robust``) carries three kinds of channel: a
publishing channel with publisher confirms (``send`` returns once RabbitMQ holds every
message; an unroutable one raises), a consuming channel whose prefetch follows the worker's
free slots (see ``_consumer``), and plain channels for declares and inspection. When the
connection drops, aio-pika reconnects; publishes that were not confirmed are sent again,
unacked deliveries go back to their queues on the server, and consuming resumes.

Delivery counts: RabbitMQ only says "redelivered" (yes or no). This broker keeps an exact
count in the ``x-qtasks-delivered`` header: a hand-back (``nack``) republishes the message
with the count raised, and a message that comes back redelivered (its worker died or lost its
connection) is republished the same way before any worker sees it, then acked. So a task
whose worker was killed shows the redelivery in ``retries``, and ``max_deliveries`` stops a
message that kills every worker. Republishing puts the message behind others of its priority.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import aiormq
from aiormq.abc import AbstractChannel, DeliveredMessage
from pamqp.commands import Basic
from typing_extensions import Self

from qtasks.discovery import redact_url
from qtasks.interfaces.broker import Broker, DeadLetter, Delivery, OutgoingMessage, QueueStats
from qtasks.interfaces.storage import Storage
from qtasks.task import Task
from qtasks_rabbitmq import _admin
from qtasks_rabbitmq._consumer import Prefetcher
from qtasks_rabbitmq._link import Link, Out
from qtasks_rabbitmq._routes import ReplyRoutes
from qtasks_rabbitmq._topology import Topology
from qtasks_rabbitmq._wire import (
    Receipt,
    dead_letter_properties,
    delay_headers,
    delay_ms,
    task_properties,
    time_header,
)
from qtasks_rabbitmq.exceptions import (
    RabbitMQBrokerError,
    RabbitMQConnectionError,
)
from qtasks_rabbitmq.names import (
    HEADER_ETA,
    MESSAGE_TYPE_RESULT,
    REPLY_TO,
    Names,
)

if TYPE_CHECKING:
    from qtasks_rabbitmq.storage import DirectReplyStorage

__all__ = ["RabbitMQBroker"]

logger = logging.getLogger("qtasks.rabbitmq")

#: A delayed message that arrives more than this early (only past the ~49.7-day reach of the
#: delay levels, or with clocks far apart) is sent through the levels again.
EARLY_TOLERANCE = 1.0


class RabbitMQBroker(Broker):
    """QTasks queues on RabbitMQ (AMQP 0-9-1, tested on RabbitMQ 3.10 without plugins).

    ``url``: ``amqp://user:password@host:5672/vhost`` or ``amqps://...``; query parameters
    go to aio-pika (``?heartbeat=30``). ``max_priority``: the work queues' ``x-max-priority``
    (1-255; see ``_wire`` for the mapping of QTasks priorities). ``publish_timeout``: how long
    ``send`` keeps trying through a reconnect before it raises. ``startup_linger``: how long a
    ``receive`` that has just started consuming lets the first burst arrive before ordering
    it by priority. ``reconnect_interval``: seconds between reconnect attempts (one given in
    the URL wins). ``scan_limit``: at most this many dead letters are read by one
    ``dead_letters``/``stats``/``requeue_dead`` call.
    """

    def __init__(
        self,
        url: str = "amqp://guest:guest@127.0.0.1:5672/",
        *,
        max_priority: int = 10,
        connect_timeout: float = 10.0,
        publish_timeout: float = 30.0,
        startup_linger: float = 0.05,
        reconnect_interval: float = 1.0,
        scan_limit: int = 10_000,
        connection_name: str | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(max_priority, int) or not 1 <= max_priority <= 255:
            raise RabbitMQBrokerError(
                f"max_priority must be an int from 1 to 255 (RabbitMQ's range), got "
                f"{max_priority!r}; 10 is plenty for most apps"
            )
        self.url = url
        self.max_priority = max_priority
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.startup_linger = startup_linger
        self.reconnect_interval = reconnect_interval
        self.scan_limit = scan_limit
        self.connection_name = connection_name
        self._link = Link(
            url,
            connect_timeout=connect_timeout,
            reconnect_interval=reconnect_interval,
            on_reply=self._on_reply,
        )
        self._replies: DirectReplyStorage | None = None
        self._routes = ReplyRoutes()
        self._held: dict[str, Delivery] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._connecting: asyncio.Event | None = None
        self._names = Names(self.namespace)
        self._topology = Topology(self._names, max_priority, self._plain_channel)
        self._prefetcher = Prefetcher(self._names, max_priority, self._topology.queue)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``amqp://`` or ``amqps://`` URL; keyword options as for the constructor."""
        return cls(url, **options)

    def default_storage(self) -> Storage:
        """Results by direct reply-to, for apps given this broker and no storage."""
        from qtasks_rabbitmq.storage import DirectReplyStorage  # noqa: PLC0415 - cycle

        return DirectReplyStorage(self)

    def _attach(self, storage: DirectReplyStorage) -> None:
        self._replies = storage

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the broker holds a connection (aio-pika may be reconnecting it)."""
        return self._link.connection is not None

    @property
    def names(self) -> Names:
        """The server-side names of this broker's namespace."""
        return self._names

    async def start(self) -> None:
        """Connect (once); raise ``RabbitMQConnectionError`` if RabbitMQ cannot be reached."""
        if self._link.connection is not None:
            return
        if self._connecting is not None:  # another coroutine is connecting: share its result
            await self._connecting.wait()
            if not self.connected:
                raise RabbitMQConnectionError(f"could not connect to {redact_url(self.url)}")
            return
        self._connecting = asyncio.Event()
        try:
            await self._connect()
        finally:
            connecting, self._connecting = self._connecting, None
            connecting.set()

    async def _connect(self) -> None:
        if self._names.namespace != self.namespace:  # bound after construction
            self._names = Names(self.namespace)
            self._topology = Topology(self._names, self.max_priority, self._plain_channel)
            self._prefetcher = Prefetcher(self._names, self.max_priority, self._topology.queue)
        # Locks belong to an event loop; a broker may be started again on another one.
        self._topology.new_loop()
        self._prefetcher.new_loop()
        name = self.connection_name or f"qtasks {self.namespace} pid {os.getpid()}"
        await self._link.open(name, self._on_consumer_reopen, self._on_reconnect)

    async def stop(self) -> None:
        """Give buffered deliveries back, finish background republishes, disconnect."""
        if self._link.connection is None or self._stopping:
            return
        self._stopping = True
        try:
            background = list(self._background)
            if background:
                _, late = await asyncio.wait(background, timeout=5)
                for task in late:  # their originals go back to RabbitMQ with the channel
                    task.cancel()
            try:
                await asyncio.wait_for(self._return_buffered(), 5)
            except Exception as exc:
                logger.debug("could not hand buffered deliveries back before closing: %r", exc)
        finally:
            self._prefetcher.reset()
            self._topology.forget()
            self._routes.clear()
            self._held.clear()
            try:
                await self._link.close()
            finally:
                self._stopping = False

    async def _return_buffered(self) -> None:
        """Put prefetched deliveries no worker has seen back, without counting a delivery.

        Closing the channel would requeue them as "redelivered", which this broker counts as
        a delivery; a copy with the same count keeps ``retries`` honest.
        """
        left = await self._prefetcher.cancel()
        if left:
            await self._republish([(r, body, r.delivered) for r, body in left], 0.0)

    def _on_consumer_reopen(self, *_: Any) -> None:
        self._prefetcher.wake()

    def _on_reconnect(self, *_: Any) -> None:
        logger.warning("reconnected to RabbitMQ at %s", redact_url(self.url))
        self._topology.forget()
        self._prefetcher.wake()

    async def _ready(self) -> Link:
        if self._link.connection is None:
            await self.start()
        return self._link

    async def _plain_channel(self) -> AbstractChannel:
        """A channel for declares and inspection (the topology's channel)."""
        return await (await self._ready()).plain_channel(self.publish_timeout)

    async def _scratch_channel(self) -> AbstractChannel:
        """A fresh channel for operations that may close it."""
        return await (await self._ready()).scratch_channel(self.publish_timeout)

    async def _publish(self, outs: Sequence[Out], timeout: float) -> None:
        """Publish with confirms through reconnects (see ``Link.publish``)."""
        if outs:
            link = await self._ready()
            await link.publish(outs, timeout, self._topology.forget)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- publishing ------------------------------------------------------------------------------

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publish persistent messages and wait for RabbitMQ's confirms."""
        await self._send(messages, None)

    async def _send(
        self, messages: Sequence[OutgoingMessage], reply: Callable[[str], str | None] | None
    ) -> None:
        now = time.time()
        outs = []
        for message in messages:
            reply_to = reply(message.uuid) if reply is not None and message.uuid else None
            properties = task_properties(
                uuid=message.uuid,
                priority=message.priority,
                max_priority=self.max_priority,
                reply_to=reply_to,
            )
            outs.append(
                await self._routed(message.queue, message.body, properties, message.eta, now)
            )
        await self._publish(outs, self.publish_timeout)

    async def _routed(
        self, queue: str, body: bytes, properties: Basic.Properties, eta: float | None, now: float
    ) -> Out:
        """Address a task message: its work queue, or the delay levels when it is not due."""
        routing_key = self._names.queue(queue)
        if eta is not None:
            milliseconds = delay_ms(eta - now)
            if milliseconds > 0:
                await self._topology.delay_levels(queue, milliseconds.bit_length())
                # Declaring levels takes round trips: measure the delay again from now, so
                # that time is not added to it. It can only shrink, so the levels suffice.
                milliseconds = max(1, delay_ms(eta - time.time()))
                levels = milliseconds.bit_length()
                headers = properties.headers if properties.headers is not None else {}
                headers.update(delay_headers(milliseconds))
                headers[HEADER_ETA] = time_header(eta)
                properties.headers = headers
                exchange = self._names.delay_exchange(queue, levels)
                return Out(exchange, routing_key, body, properties, queue)
        await self._topology.queue(queue)
        return Out("", routing_key, body, properties, queue)

    async def _on_reply(self, message: DeliveredMessage) -> None:
        storage = self._replies
        if storage is not None and message.header.properties.message_type == MESSAGE_TYPE_RESULT:
            storage.deliver(message.body)

    # -- consuming -------------------------------------------------------------------------------

    async def receive(
        self, queues: Sequence[str], max_messages: int, timeout: float
    ) -> list[Delivery]:
        """Take up to ``max_messages`` buffered deliveries, waiting up to ``timeout`` s."""
        link = await self._ready()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        prefetcher = self._prefetcher
        while True:
            consumer = link.consumer
            if consumer is None:  # stopped meanwhile
                return []
            channel = await link.channel_of(consumer, max(0.0, deadline - loop.time()))
            if await prefetcher.ensure(channel, queues, max_messages):
                await asyncio.sleep(self.startup_linger)
            taken = self._deliveries(prefetcher.take(max_messages))
            if taken:
                return taken
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await prefetcher.wait(remaining)

    def _deliveries(self, taken: list[tuple[Receipt, bytes]]) -> list[Delivery]:
        out = []
        now = time.time()
        for receipt, body in taken:
            held = self._held.get(receipt.uuid) if receipt.uuid is not None else None
            if held is not None and held.receipt.stale:
                # Our worker still runs this task, taken on a channel lost since: let the
                # live delivery stand in for the dead one, so the task's ack lands, and a
                # crash of this worker still leaves the message with RabbitMQ.
                self._adopt(held, receipt)
                continue
            if receipt.redelivered:
                self._spawn(self._republish([(receipt, body, receipt.delivered + 1)], 0.0))
                continue
            if receipt.eta is not None and receipt.eta > now + EARLY_TOLERANCE:
                self._spawn(self._republish([(receipt, body, receipt.delivered)], 0.0))
                continue
            self._routes.remember(receipt)
            delivery = Delivery(
                body=body,
                queue=receipt.queue,
                receipt=receipt,
                delivery_count=receipt.delivered + 1,
                uuid=receipt.uuid,
                priority=receipt.priority,
            )
            if receipt.uuid is not None:
                self._held[receipt.uuid] = delivery
            out.append(delivery)
        return out

    def _adopt(self, held: Delivery, receipt: Receipt) -> None:
        old: Receipt = held.receipt
        held.receipt = receipt
        self._routes.replace(old, receipt)
        logger.info("task %s: redelivered after a reconnect while still running here", receipt.uuid)

    async def _republish(self, items: list[tuple[Receipt, bytes, int]], delay: float) -> None:
        """Publish copies with a new delivery count (and delay), then ack the originals."""
        now = time.time()
        outs = []
        for receipt, body, delivered in items:
            eta = receipt.eta if receipt.eta is not None and receipt.eta > now else None
            if delay > 0:
                eta = now + delay
            properties = task_properties(
                uuid=receipt.uuid,
                priority=receipt.priority,
                max_priority=self.max_priority,
                delivered=delivered,
                reply_to=receipt.reply_to,
            )
            outs.append(await self._routed(receipt.queue, body, properties, eta, now))
        try:
            await self._publish(outs, self.publish_timeout)
        except Exception:
            logger.exception("could not republish %d message(s); RabbitMQ keeps them", len(items))
            for receipt, _, _ in items:
                if self._prefetcher.settled(receipt):
                    await self._settle_one(receipt, requeue=True)
            return
        for receipt, _, _ in items:
            if self._prefetcher.settled(receipt):
                await self._settle_one(receipt)

    async def _settle_one(self, receipt: Receipt, *, requeue: bool | None = None) -> None:
        try:
            if requeue is None:
                await receipt.channel.basic_ack(receipt.tag, wait=False)
            else:
                await receipt.channel.basic_nack(receipt.tag, requeue=requeue, wait=False)
        except (aiormq.exceptions.ChannelInvalidStateError, aiormq.exceptions.AMQPError):
            logger.debug("channel of delivery %d closed; RabbitMQ requeued it", receipt.tag)

    def _forget(self, delivery: Delivery) -> Receipt:
        """Drop what is kept about a delivery being settled; return its receipt."""
        receipt: Receipt = delivery.receipt
        uuid = receipt.uuid
        if uuid is not None:
            self._routes.forget(receipt)
            if self._held.get(uuid) is delivery:
                del self._held[uuid]
        return receipt

    def reply_route(self, uuid: str) -> str | None:
        """Where the result of a task in flight should be sent by direct reply-to."""
        return self._routes.address(uuid)

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge; deliveries of a channel lost since are skipped (RabbitMQ requeued them)."""
        for delivery in deliveries:
            receipt = self._forget(delivery)
            if self._prefetcher.settled(receipt):
                await self._settle_one(receipt)

    async def nack(
        self, deliveries: Sequence[Delivery], *, delay: float = 0.0, counted: bool = True
    ) -> None:
        """Republish with the delivery count raised (after ``delay``), then ack the originals.

        ``counted=False`` (never started, only prefetched) republishes with the count as it
        was, so the next delivery does not count this one.
        """
        # A delivery of a channel lost since was requeued by RabbitMQ, but its redelivered
        # copy may have been dropped as a duplicate while the worker still held this one:
        # publish it all the same (at worst a duplicate, never a loss); only the ack is skipped.
        items = []
        for delivery in deliveries:
            receipt = self._forget(delivery)
            items.append((receipt, delivery.body, receipt.delivered + (1 if counted else 0)))
        if items:
            await self._republish(items, delay)

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Publish the bytes and ``reason`` to the namespace's dead-letter queue, then ack.

        The reply route stays: the worker stores the task's error record right after, and
        that record is what a producer waiting by direct reply-to should get.
        """
        receipt: Receipt = delivery.receipt
        if receipt.uuid is not None and self._held.get(receipt.uuid) is delivery:
            del self._held[receipt.uuid]
        await self._topology.dead()
        properties = dead_letter_properties(receipt.uuid, delivery.queue, delivery.priority, reason)
        out = Out("", self._names.dead, delivery.body, properties, delivery.queue)
        await self._publish([out], self.publish_timeout)
        if self._prefetcher.settled(receipt):
            await self._settle_one(receipt)

    # -- results ---------------------------------------------------------------------------------

    async def publish(
        self, storage: Storage, records: Sequence[Task], messages: Sequence[OutgoingMessage]
    ) -> None:
        """Store records, then send; with the direct reply-to storage, ask for replies."""
        if storage is self._replies and self._replies is not None:
            self._replies.track(records)
            await self._send(messages, lambda _: REPLY_TO)
            return
        await super().publish(storage, records, messages)

    async def settle(
        self,
        storage: Storage,
        records: Sequence[Task],
        acks: Sequence[Delivery],
        sends: Sequence[OutgoingMessage] = (),
    ) -> None:
        """Store, reply to waiting producers, send retries (keeping their reply route), ack."""
        if records:
            await storage.save(records)
            if storage is not self._replies and self._routes:
                await self.send_replies(records)
        if sends:
            await self._send(sends, self.reply_route)
        if acks:
            await self.ack(acks)

    async def send_replies(self, records: Sequence[Task]) -> None:
        """Send finished records to the producers that asked for a direct reply."""
        outs = self._routes.replies(records, self.serializer)
        try:
            await self._publish(outs, min(5.0, self.publish_timeout))
        except Exception as exc:
            logger.warning("could not send %d result(s) by direct reply-to: %r", len(outs), exc)

    # -- inspection and management ---------------------------------------------------------------

    async def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Dead letters, oldest first (read without removing them)."""
        return await _admin.dead_letters(self, queue, limit)

    async def stats(self, queues: Sequence[str]) -> list[QueueStats]:
        """Ready, delayed and dead per queue; ``in_flight`` is ``None`` (AMQP cannot tell)."""
        return await _admin.stats(self, queues)

    async def purge(self, queues: Sequence[str]) -> int:
        """Drop ready and delayed messages of ``queues``."""
        return await _admin.purge(self, queues)

    async def requeue_dead(self, queue: str | None = None, limit: int | None = None) -> int:
        """Send dead letters back to their queues with a fresh delivery count."""
        return await _admin.requeue_dead(self, queue, limit)

    async def delete(self, queues: Sequence[str], *, dead_letters: bool = True) -> None:
        """Delete ``queues`` from the server with their delay levels (and the dead letters).

        Messages in them are lost; meant for tests and for retiring a queue.
        """
        await self._ready()
        await self._topology.delete(queues, dead_letters=dead_letters)

    @property
    def known_queues(self) -> set[str]:
        """QTasks queues this broker has declared (kept across reconnects and restarts)."""
        return self._topology.known_queues
