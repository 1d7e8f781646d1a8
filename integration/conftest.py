"""Tests against real servers. The fixtures find or start each server (see qtasks.testing.servers):
under CI=true a missing server fails the run, elsewhere the test is skipped naming the server.

The ``delete_*`` helpers remove what one app name made on a server; the backend conftests and
``test_same_app_everywhere`` import them (``from ..conftest import ...``). The RabbitMQ and
Kafka clients are imported inside them, so running only the Redis tests needs neither.
"""

from __future__ import annotations

import pytest
import redis

from qtasks.testing.servers import amqp_url, kafka_url, private_redis, redis_url

__all__ = [
    "amqp_url",
    "anyio_backend",
    "delete_kafka_topics",
    "delete_rabbitmq_queues",
    "delete_redis_keys",
    "kafka_url",
    "private_redis",
    "redis_url",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def delete_redis_keys(url: str, name: str) -> None:
    """The app's task records (with the Redis broker, its queues and config too), and the
    ``<name>:...`` keys tests write beside them."""
    from qtasks_redis import keys

    client = redis.Redis.from_url(url)
    try:
        for pattern in (*keys.app_key_patterns(name), f"{name}:*"):
            found = list(client.scan_iter(match=pattern, count=1000))
            for start in range(0, len(found), 1000):
                client.delete(*found[start : start + 1000])
    finally:
        client.close()


async def delete_rabbitmq_queues(url: str, name: str) -> None:
    """The app's default queue, its delay levels and its dead letters."""
    from qtasks.serializers.json import JsonSerializer
    from qtasks_rabbitmq import RabbitMQBroker

    janitor = RabbitMQBroker(url)
    janitor.bind(name, JsonSerializer())
    await janitor.start()
    try:
        await janitor.delete(["default"])
    finally:
        await janitor.stop()


async def delete_kafka_topics(url: str, name: str) -> None:
    """Every topic of the app: ready, priority bands, delay steps, dead letters."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=url.removeprefix("kafka://").split("?")[0])
    await admin.start()
    try:
        prefix = f"qtasks.{name}"
        ours = [t for t in await admin.list_topics() if t == prefix or t.startswith(prefix + ".")]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()
