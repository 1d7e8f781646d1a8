from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from qtasks import QueueTasks as SyncQueueTasks
from qtasks.asyncio import QueueTasks


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def app() -> AsyncIterator[QueueTasks]:
    application = QueueTasks("test")
    yield application
    await application.stop()


@pytest.fixture
def sync_app() -> Iterator[SyncQueueTasks]:
    application = SyncQueueTasks("test-sync")
    yield application
    application.close()
