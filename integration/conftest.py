"""Tests against real servers. The fixtures find or start each server (see qtasks.testing.servers):
under CI=true a missing server fails the run, elsewhere the test is skipped naming the server.
"""

from __future__ import annotations

import pytest

from qtasks.testing.servers import amqp_url, kafka_url, private_redis, redis_url

__all__ = ["amqp_url", "anyio_backend", "kafka_url", "private_redis", "redis_url"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
