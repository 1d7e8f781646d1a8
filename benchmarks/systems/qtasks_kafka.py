"""QTasks on Kafka (Tansu) through ``qtasks-kafka``, results in Redis, public API only.

``QueueTasks(broker="kafka://...", storage="redis://...")`` with the broker's default settings
(one partition per topic, ``session_timeout`` 10 s): Tansu holds a new consumer group's first
join for half the session timeout, so a worker's start-up includes about 5 s of waiting that
Apache Kafka spends in ``group.initial.rebalance.delay.ms`` (3 s by default) instead. The worker
is ``app.run_forever(concurrency=10)`` in its own process, as for ``qtasks-redis``.
"""

from __future__ import annotations

from .qtasks_redis import QTasksRedis

__all__ = ["SYSTEMS", "QTasksKafka"]


class QTasksKafka(QTasksRedis):
    name = "qtasks-kafka"
    summary = (
        "QueueTasks(broker=kafka://..., storage=redis://...) from qtasks-kafka on Tansu, "
        "default settings (1 partition, acks=all); worker app.run_forever(concurrency=10), "
        "1 process; results in Redis; add_task(timeout=) waits; add_tasks for bulk; log "
        "level WARNING"
    )
    servers = ("redis", "kafka")
    rank = 3
    requires = ("qtasks", "qtasks_kafka", "qtasks_redis", "redis")
    distributions = ("qtasks-core", "qtasks-kafka", "qtasks-redis", "aiokafka")

    def broker_url(self) -> str:
        return self.env.url("kafka")

    def storage_url(self) -> str | None:
        return self.url

    async def purge(self) -> None:
        await self.app.broker.purge([self.app.default_queue])
        await super().purge()


SYSTEMS = (QTasksKafka,)
