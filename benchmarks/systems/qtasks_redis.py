"""QTasks on Redis through the ``qtasks-redis`` package, used only through the public API.

``QueueTasks(broker="redis://...")`` picks the Redis broker, storage and global config by URL
scheme. The worker is ``app.run_forever(concurrency=10)`` of the async app in its own process
(what ``python main.py`` does), logging at WARNING; results are stored (the default) and
waited for with ``add_task(..., timeout=)``. Bulk enqueue is ``add_tasks``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from . import _tasks
from ._qtasks import QTasksProducer, make_app
from ._redis import RedisSystem

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks

__all__ = ["SYSTEMS", "QTasksRedis"]


class QTasksRedis(QTasksProducer, RedisSystem):
    name = "qtasks-redis"
    summary = (
        "QueueTasks(broker=redis://...) from qtasks-redis; worker app.run_forever("
        "concurrency=10), 1 process; results stored (default); add_task(timeout=) waits; "
        "add_tasks for bulk; log level WARNING"
    )
    requires: ClassVar[tuple[str, ...]] = ("qtasks", "qtasks_redis", "redis")
    distributions: ClassVar[tuple[str, ...]] = ("qtasks-core", "qtasks-redis")
    concurrency = 10
    bulk = True
    rank = 1

    def broker_url(self) -> str:
        """The ``broker=`` URL the app is given."""
        return self.url

    def storage_url(self) -> str | None:
        """The ``storage=`` URL the app is given (None: the broker's own default)."""
        return None

    async def connect(self) -> None:
        self.app: QueueTasks = make_app(self.broker_url(), _tasks.ASYNC_BODIES, self.storage_url())
        await self.app.start()

    async def disconnect(self) -> None:
        await self.app.stop()

    def serve(self) -> None:
        app = make_app(self.broker_url(), _tasks.ASYNC_BODIES, self.storage_url())
        asyncio.run(app.run_forever(concurrency=self.concurrency))


SYSTEMS = (QTasksRedis,)
