from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from qtasks.asyncio import QueueTasks
from qtasks.testing.servers import private_redis, redis_url

__all__ = ["anyio_backend", "app", "name", "private_redis", "raw", "redis_url"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def name(redis_url: str) -> Iterator[str]:
    """A fresh app name; every key of that app is deleted afterwards."""
    value = f"t-{uuid.uuid4().hex[:10]}"
    yield value
    client = redis.Redis.from_url(redis_url)
    for pattern in (f"qtasks:{{{value}*", f"qtasks:{value}:*"):
        found = list(client.scan_iter(match=pattern, count=1000))
        if found:
            client.delete(*found)
    client.close()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain synchronous client, standing for redis-cli or another program."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
async def app(redis_url: str, name: str) -> AsyncIterator[QueueTasks]:
    application = QueueTasks(name, broker=redis_url)
    yield application
    await application.stop()
