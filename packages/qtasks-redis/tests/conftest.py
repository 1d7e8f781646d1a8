from __future__ import annotations

import pytest

from qtasks.testing.servers import private_redis, redis_url

__all__ = ["anyio_backend", "private_redis", "redis_url"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
