"""The broker's link to RabbitMQ: one robust connection, its channels, confirmed publishing.

``aio_pika.connect_robust`` reconnects by itself and reopens the two robust channels: the
publishing one (publisher confirms; a returned ``mandatory`` publish raises) and the
consuming one. Plain channels (declares, inspection) are opened on the current transport and
opened again when they close. ``publish`` waits out a reconnect and publishes again whatever
RabbitMQ did not confirm, up to a deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection
from aiormq.abc import AbstractChannel, DeliveredMessage
from pamqp.commands import Basic

from qtasks.discovery import redact_url
from qtasks_rabbitmq.exceptions import RabbitMQConnectionError, UnroutableMessageError
from qtasks_rabbitmq.names import REPLY_TO

__all__ = ["RETRYABLE", "Link", "Out"]

logger = logging.getLogger("qtasks.rabbitmq")

#: Errors after which a publish is tried again on the reconnected channel.
RETRYABLE = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError,
    asyncio.TimeoutError,
)

Callback = Callable[..., Any]


@dataclass(slots=True)
class Out:
    """One publish: where to, what, and for which QTasks queue (for error messages)."""

    exchange: str
    routing_key: str
    body: bytes
    properties: Basic.Properties
    queue: str
    mandatory: bool = True


class Link:
    """A robust connection with the channels the broker works on."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float,
        reconnect_interval: float,
        on_reply: Callable[[DeliveredMessage], Coroutine[Any, Any, None]],
    ) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self.reconnect_interval = reconnect_interval
        self.on_reply = on_reply
        self.connection: AbstractRobustConnection | None = None
        self.publisher: AbstractRobustChannel | None = None
        self.consumer: AbstractRobustChannel | None = None
        self._plain: AbstractChannel | None = None
        self._reply_channel: AbstractChannel | None = None
        self._reply_lock = asyncio.Lock()

    async def open(self, name: str, on_consumer_reopen: Callback, on_reconnect: Callback) -> None:
        """Connect; raise ``RabbitMQConnectionError`` naming the (redacted) URL if it fails."""
        self._reply_lock = asyncio.Lock()  # locks belong to one event loop
        options: dict[str, Any] = {"client_properties": {"connection_name": name}}
        if "reconnect_interval" not in urlsplit(self.url).query:
            options["reconnect_interval"] = self.reconnect_interval
        try:
            connection = await aio_pika.connect_robust(
                self.url, timeout=self.connect_timeout, **options
            )
        except (OSError, asyncio.TimeoutError, aiormq.exceptions.AMQPError) as exc:
            raise RabbitMQConnectionError(
                f"cannot connect to RabbitMQ at {redact_url(self.url)}: {exc!r}. Check that "
                "the server runs and that host, port, user, password and vhost are right"
            ) from None
        self.connection = connection
        self.publisher = await connection.channel(publisher_confirms=True, on_return_raises=True)
        self.consumer = await connection.channel(publisher_confirms=False)
        self.consumer.reopen_callbacks.add(on_consumer_reopen)
        connection.reconnect_callbacks.add(on_reconnect)

    async def close(self) -> None:
        """Close the connection (RabbitMQ requeues whatever is unacked on it)."""
        connection, self.connection = self.connection, None
        self.publisher = self.consumer = None
        self._plain = self._reply_channel = None
        if connection is not None:
            await connection.close()
            await _closing_callbacks()

    async def channel_of(self, channel: AbstractRobustChannel, timeout: float) -> AbstractChannel:
        """The live AMQP channel under a robust one, waiting out a reconnect."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            try:
                raw = await asyncio.wait_for(channel.get_underlay_channel(), max(remaining, 0.01))
                if not raw.is_closed:
                    return raw
            except (asyncio.TimeoutError, aiormq.exceptions.ChannelInvalidStateError):
                pass
            except aiormq.exceptions.AMQPError as exc:
                logger.debug("channel not usable yet: %r", exc)
            if loop.time() >= deadline:
                raise RabbitMQConnectionError(
                    f"RabbitMQ at {redact_url(self.url)} is not reachable (waited {timeout:g} s "
                    "for the connection to come back)"
                )
            await asyncio.sleep(0.05)

    async def _transport_channel(self, timeout: float) -> AbstractChannel:
        connection = self.connection
        assert connection is not None, "the broker is not started"
        try:
            await asyncio.wait_for(connection.ready(), timeout)
        except asyncio.TimeoutError:
            raise RabbitMQConnectionError(
                f"RabbitMQ at {redact_url(self.url)} is not reachable"
            ) from None
        transport = connection.transport
        assert transport is not None
        return await transport.connection.channel(publisher_confirms=False)

    async def plain_channel(self, timeout: float) -> AbstractChannel:
        """A channel without confirms for declares and inspection, opened again if closed."""
        channel = self._plain
        if channel is None or channel.is_closed:
            channel = self._plain = await self._transport_channel(timeout)
        return channel

    async def scratch_channel(self, timeout: float) -> AbstractChannel:
        """A fresh channel for operations that may close it (a passive declare of a gap)."""
        return await self._transport_channel(timeout)

    async def publish(
        self, outs: Sequence[Out], timeout: float, on_unroutable: Callable[[], None]
    ) -> None:
        """Publish and wait for every confirm, publishing again what a reconnect lost."""
        if not outs:
            return
        assert self.publisher is not None, "the broker is not started"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = list(outs)
        failures = 0
        while True:
            channel = await self.channel_of(self.publisher, max(0.0, deadline - loop.time()))
            if any(out.properties.reply_to == REPLY_TO for out in pending):
                await self._ensure_reply_consumer(channel)
            results = await asyncio.gather(
                *(
                    channel.basic_publish(
                        out.body,
                        exchange=out.exchange,
                        routing_key=out.routing_key,
                        properties=out.properties,
                        mandatory=out.mandatory,
                    )
                    for out in pending
                ),
                return_exceptions=True,
            )
            retry: list[Out] = []
            last: object = None
            for out, result in zip(pending, results, strict=True):
                if isinstance(result, aiormq.exceptions.PublishError):
                    on_unroutable()
                    detail = getattr(result.frame, "reply_text", None) or "returned"
                    raise UnroutableMessageError(
                        out.queue, out.exchange or out.routing_key, str(detail)
                    )
                if isinstance(result, Basic.Nack):
                    retry.append(out)
                    last = "RabbitMQ nacked the publish"
                elif isinstance(result, RETRYABLE):
                    retry.append(out)
                    last = result
                elif isinstance(result, BaseException):
                    raise result
            if not retry:
                return
            failures += 1
            if loop.time() >= deadline:
                raise RabbitMQConnectionError(
                    f"{len(retry)} message(s) not confirmed by RabbitMQ at "
                    f"{redact_url(self.url)} within {timeout:g} s; last error: {last!r}"
                )
            if failures == 1:
                logger.warning("publish not confirmed, trying again: %r", last)
            pending = retry
            await asyncio.sleep(min(1.0, 0.05 * 2**failures))

    async def _ensure_reply_consumer(self, channel: AbstractChannel) -> None:
        """Consume direct replies on the publishing channel, as RabbitMQ requires."""
        if self._reply_channel is channel:
            return
        async with self._reply_lock:
            if self._reply_channel is channel:
                return
            await channel.basic_consume(REPLY_TO, self.on_reply, no_ack=True)
            self._reply_channel = channel


async def _closing_callbacks() -> None:
    """Let aio-pika's close callbacks finish, so none is left pending when the loop ends.

    ``close()`` returns while aio-pika still runs its "connection closed" callbacks in
    tasks of their own; an event loop closed right after (``anyio.run`` returning, a test
    ending) would destroy them half-way.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    quiet = 0
    while quiet < 3 and loop.time() < deadline:
        await asyncio.sleep(0)  # callbacks may be scheduled a few loop turns after close()
        pending = [
            task
            for task in asyncio.all_tasks()
            if "OneShotCallback" in getattr(task.get_coro(), "__qualname__", "")
        ]
        if pending:
            quiet = 0
            await asyncio.wait(pending, timeout=1)
        else:
            quiet += 1
