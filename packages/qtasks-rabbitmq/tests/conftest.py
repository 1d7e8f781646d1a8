"""Fixtures for qtasks-rabbitmq's tests: the shared RabbitMQ, fresh namespaces, cleanup.

Every test works in a namespace of its own and deletes exactly the queues and exchanges it
made there, so tests can run beside other users of the same server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from qtasks.serializers.json import JsonSerializer
from qtasks.testing.servers import amqp_url
from qtasks_rabbitmq import RabbitMQBroker

__all__ = ["amqp_url", "anyio_backend", "cleanup", "fresh_name"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fresh_name() -> str:
    """An app name (namespace) no other test uses."""
    return f"qtrmq-{uuid.uuid4().hex[:10]}"


Cleanup = Callable[[RabbitMQBroker], None]


@pytest.fixture
async def cleanup(amqp_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Cleanup]:
    """Register brokers whose namespaces (queues, delay levels, dead letters) go at the end.

    Afterwards it also fails the test if an AMQP connection was left running: its tasks would
    die half-way with the event loop.
    """
    brokers: list[RabbitMQBroker] = []
    yield brokers.append
    seen: dict[str, set[str]] = {}
    for broker in brokers:
        seen.setdefault(broker.namespace, set()).update(broker.known_queues)
    for namespace, queues in seen.items():
        janitor = RabbitMQBroker(amqp_url)
        janitor.bind(namespace, JsonSerializer())
        await janitor.start()
        try:
            await janitor.delete(sorted(queues))
        finally:
            await janitor.stop()
    for _ in range(5):
        await asyncio.sleep(0)
    ours = asyncio.current_task()
    left = sorted(
        name
        for task in asyncio.all_tasks()
        if task is not ours
        and (name := getattr(task.get_coro(), "__qualname__", "")).startswith(
            ("Connection.", "RobustConnection.", "Channel.", "OneShotCallback.")
        )
    )
    assert not left, f"{request.node.name} left AMQP tasks running: {left}"
