from __future__ import annotations

import pytest

from qtasks.testing.servers import kafka_url

__all__ = ["anyio_backend", "kafka_url"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
