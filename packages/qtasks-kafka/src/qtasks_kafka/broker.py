"""KafkaBroker: task queues as Kafka topics, shared by the app's workers through one group.

What Kafka gives and what this broker adds (docs/kafka.md tells the whole story):

* A topic per queue, the task uuid as the record key (or a header the producer sets, for
  per-key ordering), a consumer group per app.
* Tasks of one partition run concurrently and finish in any order; the group's offset only
  moves past records whose tasks are finished (``_tracker``), so a worker killed mid-task means
  its unfinished records are read again by the member that takes its partitions over, and the
  delivery count shows it (``_consumer``).
* ``nack`` and retries write a new copy of the record (ready now, or through the delay
  topics, ``_delays``), then commit the old one; dead letters go to a per-queue topic with the
  reason in a header.
* No per-message priority: optional priority *bands* (a topic each) are read best band first.
* Kafka keeps no task results: the app needs a shared storage (Redis, ...), and this broker
  refuses the process-local in-memory one unless told it is fine (tests, one process).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError as AioKafkaConnectionError
from aiokafka.errors import KafkaError
from typing_extensions import Self

from qtasks.interfaces.broker import Broker, DeadLetter, Delivery, OutgoingMessage, QueueStats
from qtasks.memory import MemoryStorage
from qtasks_kafka import _management
from qtasks_kafka._cluster import Cluster, TopicSpec
from qtasks_kafka._consumer import GroupConsumer, Handle
from qtasks_kafka._delays import DEFAULT_DELAY_STEPS, DelayForwarder, DelayTopic, plan_hop
from qtasks_kafka._envelope import Envelope
from qtasks_kafka._names import H_DEAD_AT, H_ORIGIN, H_QUEUE, H_REASON, Names
from qtasks_kafka._settings import parse_url
from qtasks_kafka.exceptions import (
    KafkaBrokerError,
    KafkaConfigurationError,
    KafkaConnectionError,
)

if TYPE_CHECKING:
    from qtasks.interfaces.storage import Storage
    from qtasks.task import Task

__all__ = ["KafkaBroker"]

logger = logging.getLogger("qtasks.kafka")

_MEMORY_STORAGE_FIX = (
    "a Kafka broker keeps no task results, and the in-memory storage is visible to this "
    "process only, so workers and producers in other processes would never see a result. "
    "Give the app a shared storage, for example "
    "QueueTasks(broker='kafka://127.0.0.1:9092', storage='redis://127.0.0.1:6379/0') "
    "(pip install qtasks-redis). For tests that run producer and worker in one process, "
    "opt in with KafkaBroker(..., allow_memory_storage=True) or "
    "'kafka://HOST:PORT?allow_memory_storage=true'"
)


class KafkaBroker(Broker):
    """Queues on a Kafka cluster (or anything speaking its protocol, such as Tansu).

    ``bootstrap``: ``"host:port"`` or several, as a list or comma-separated. ``partitions``
    and ``replication_factor``: for the topics this broker creates; partitions bound how many
    worker processes share a queue, and ordering holds within a partition only.
    ``priority_bands``: ascending upper bounds splitting priorities into bands, each with its
    own topic, read best band first (``()``: one topic, priority not honoured).
    ``delay_steps``: seconds of the delay topics (see ``_delays``). ``key_header``: a task
    header whose value becomes the record key instead of the uuid. ``session_timeout``: how
    long a silent worker keeps its partitions. ``rebalance_grace``: how long a rebalance
    waits for running tasks of partitions being taken away. ``allow_memory_storage``: accept
    the process-local storage (tests). ``fetch_max_wait``: how long a fetch waits on the
    server for new records (brokers that answer only when it expires, such as Tansu, add
    about half of it to every round trip; delay topics use at least 0.1 s).
    ``client_options``: extra keyword arguments for every aiokafka client (TLS, SASL...).
    """

    def __init__(
        self,
        bootstrap: str | Sequence[str] = "127.0.0.1:9092",
        *,
        partitions: int = 1,
        replication_factor: int = 1,
        priority_bands: Sequence[int] = (),
        delay_steps: Sequence[int] = DEFAULT_DELAY_STEPS,
        key_header: str | None = None,
        session_timeout: float = 10.0,
        heartbeat_interval: float = 1.0,
        rebalance_grace: float = 2.0,
        max_tracked_deliveries: int = 8,
        allow_memory_storage: bool = False,
        enable_idempotence: bool = False,
        compression: str | None = None,
        linger: float = 0.0,
        fetch_max_wait: float = 0.01,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        servers = [bootstrap] if isinstance(bootstrap, str) else list(bootstrap)
        self.bootstrap = [s.strip() for item in servers for s in item.split(",") if s.strip()]
        if not self.bootstrap:
            raise KafkaConfigurationError("KafkaBroker needs at least one 'host:port' server")
        if partitions < 1 or replication_factor < 1:
            raise KafkaConfigurationError(
                f"partitions and replication_factor must be >= 1, got {partitions} and "
                f"{replication_factor}"
            )
        bands = tuple(priority_bands)
        if list(bands) != sorted(set(bands)):
            raise KafkaConfigurationError(
                f"priority_bands must be strictly ascending upper bounds, got {bands!r}"
            )
        steps = tuple(delay_steps)
        if not steps or list(steps) != sorted(set(steps)) or steps[0] < 1:
            raise KafkaConfigurationError(
                f"delay_steps must be ascending whole seconds >= 1, got {steps!r}"
            )
        if max_tracked_deliveries < 1:
            raise KafkaConfigurationError("max_tracked_deliveries must be >= 1")
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.priority_bands = bands
        self.delay_steps = steps
        self.key_header = key_header
        self.session_timeout = session_timeout
        self.heartbeat_interval = heartbeat_interval
        self.rebalance_grace = rebalance_grace
        self.max_tracked_deliveries = max_tracked_deliveries
        self.allow_memory_storage = allow_memory_storage
        self.enable_idempotence = enable_idempotence
        self.compression = compression
        self.linger = linger
        self.fetch_max_wait = fetch_max_wait
        self.client_options = dict(client_options or {})
        self.names = Names(self.namespace)
        self._cluster: Cluster | None = None
        self._producer: Any = None
        self._consumer: GroupConsumer | None = None
        self._forwarder: DelayForwarder | None = None
        self._places: dict[str, tuple[str, int]] = {}
        #: Queues whose topics exist, as far as the current connection knows: every send
        #: and receive names its queues, and only new ones need their topic specs built.
        self._ensured: set[str] = set()
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """``kafka://host:port[,host:port][?partitions=3&priority_bands=0,5&...]``."""
        servers, parsed = parse_url(url)
        return cls(servers, **{**parsed, **options})

    def bind(self, namespace: str, serializer: Any) -> None:
        """Take the app's name: it prefixes every topic and names the consumer group."""
        super().bind(namespace, serializer)
        self.names = Names(namespace)
        self._places.clear()
        self._ensured.clear()

    def default_storage(self) -> Storage | None:
        """Refuse to fall back on the in-memory storage, unless allowed."""
        if not self.allow_memory_storage:
            raise KafkaConfigurationError(_MEMORY_STORAGE_FIX)
        return None

    def _check_storage(self, storage: Storage) -> None:
        if isinstance(storage, MemoryStorage) and not self.allow_memory_storage:
            raise KafkaConfigurationError(_MEMORY_STORAGE_FIX)

    # -- lifecycle ---------------------------------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        return {"client_id": f"qtasks-{self.namespace}"[:200], **self.client_options}

    def _consumer_options(self) -> dict[str, Any]:
        return {
            **self._client_options(),
            "session_timeout_ms": int(self.session_timeout * 1000),
            "heartbeat_interval_ms": int(self.heartbeat_interval * 1000),
            "fetch_max_wait_ms": int(self.fetch_max_wait * 1000),
        }

    async def start(self) -> None:
        """Connect the producer and the admin clients (consumers start on first receive)."""
        async with self._lock:
            if self._producer is not None:
                return
            cluster = Cluster(self.bootstrap, self._client_options())
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                enable_idempotence=self.enable_idempotence,
                compression_type=self.compression,
                linger_ms=int(self.linger * 1000),
                **self._client_options(),
            )
            try:
                await cluster.start()
                await producer.start()
            except (KafkaError, OSError) as exc:
                await cluster.close()
                await producer.stop()
                raise KafkaConnectionError(
                    f"cannot reach Kafka at {','.join(self.bootstrap)}: {exc!r}. Check that "
                    "the broker runs and that the URL's host:port is its advertised listener"
                ) from exc
            self._cluster, self._producer = cluster, producer

    async def stop(self) -> None:
        """Commit what finished, leave the groups and close every connection."""
        async with self._lock:
            forwarder, self._forwarder = self._forwarder, None
            consumer, self._consumer = self._consumer, None
            producer, self._producer = self._producer, None
            cluster, self._cluster = self._cluster, None
            self._ensured.clear()  # the next connection learns the topics afresh
            if forwarder is not None:
                await forwarder.close()
            if consumer is not None:
                await consumer.close()
            if producer is not None:
                try:
                    await producer.stop()
                except Exception:
                    logger.debug("stopping the Kafka producer failed", exc_info=True)
            if cluster is not None:
                await cluster.close()

    async def _started(self) -> tuple[Cluster, Any]:
        """The connected clients, connecting first if needed (management calls come cold)."""
        if self._cluster is None or self._producer is None:
            await self.start()
        cluster, producer = self._cluster, self._producer
        if cluster is None or producer is None:  # stopped concurrently
            raise KafkaBrokerError("the Kafka broker was stopped while in use")
        return cluster, producer

    # -- topics ------------------------------------------------------------------------------

    def band_of(self, priority: int) -> int:
        """The priority band of ``priority`` (0 is the most urgent)."""
        for index, bound in enumerate(self.priority_bands):
            if priority <= bound:
                return index
        return len(self.priority_bands)

    def ready_topics(self, queue: str) -> list[str]:
        """Every ready topic of ``queue``, best band first."""
        return [self.names.ready(queue, band) for band in range(len(self.priority_bands) + 1)]

    def _specs(self, queue: str) -> list[TopicSpec]:
        names = self.names
        specs = []
        for band, topic in enumerate(self.ready_topics(queue)):
            self._places[topic] = (queue, band)
            specs.append(TopicSpec(topic, self.partitions, self.replication_factor))
        specs.extend(
            TopicSpec(names.delay(queue, step), self.partitions, self.replication_factor)
            for step in self.delay_steps
        )
        specs.append(TopicSpec(names.dead(queue), 1, self.replication_factor))
        return specs

    async def ensure_queues(self, queues: Sequence[str]) -> None:
        """Create the topics of ``queues`` that do not exist yet."""
        cluster, _ = await self._started()
        new = [queue for queue in dict.fromkeys(queues) if queue not in self._ensured]
        if not new:
            return
        try:
            await cluster.ensure_topics([spec for queue in new for spec in self._specs(queue)])
        except KafkaError as exc:
            raise KafkaBrokerError(
                f"cannot create the topics of queues {list(queues)}: {exc!r}"
            ) from exc
        self._ensured.update(new)

    def _place(self, topic: str) -> tuple[str, int] | None:
        return self._places.get(topic)

    # -- producing ---------------------------------------------------------------------------

    def _key(self, message: OutgoingMessage) -> bytes | None:
        if self.key_header is not None:
            try:
                raw = self.serializer.loads(message.body)
                value = raw.get("headers", {}).get(self.key_header)
            except (ValueError, TypeError, AttributeError, UnicodeDecodeError):
                value = None
            if value is not None:
                return str(value).encode()
        return message.uuid.encode() if message.uuid else None

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        """Produce ``messages`` (delayed ones into delay topics) and wait for every ack."""
        await self.produce(
            [
                Envelope(m.queue, m.body, self._key(m), m.uuid, m.priority, eta=m.eta)
                for m in messages
            ]
        )

    async def produce(self, envelopes: Sequence[Envelope]) -> None:
        """Route each envelope to its ready or delay topic; return once Kafka holds them all."""
        if not envelopes:
            return
        _, producer = await self._started()
        await self.ensure_queues([e.queue for e in envelopes])
        now = time.time()
        try:
            futures = []
            for envelope in envelopes:
                step, release = (None, now)
                if envelope.eta is not None:
                    step, release = plan_hop(envelope.eta, now, self.delay_steps)
                if step is None:
                    topic = self.names.ready(envelope.queue, self.band_of(envelope.priority))
                    headers = envelope.headers()
                else:
                    topic = self.names.delay(envelope.queue, step)
                    headers = envelope.headers(release)
                futures.append(
                    await producer.send(topic, envelope.body, key=envelope.key, headers=headers)
                )
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise KafkaBrokerError(
                f"Kafka did not accept {len(envelopes)} message(s): {exc!r}"
            ) from exc

    async def publish(
        self, storage: Storage, records: Sequence[Task], messages: Sequence[OutgoingMessage]
    ) -> None:
        """Store the records, then produce (refusing a process-local storage)."""
        self._check_storage(storage)
        await super().publish(storage, records, messages)

    async def settle(
        self,
        storage: Storage,
        records: Sequence[Task],
        acks: Sequence[Delivery],
        sends: Sequence[OutgoingMessage] = (),
    ) -> None:
        """Store results, produce retries, then commit (refusing a process-local storage)."""
        self._check_storage(storage)
        await super().settle(storage, records, acks, sends)

    # -- consuming ---------------------------------------------------------------------------

    async def _member(self, queues: Sequence[str], topics: list[str]) -> GroupConsumer:
        cluster, _ = await self._started()
        if self._consumer is None:
            self._consumer = GroupConsumer(
                bootstrap=self.bootstrap,
                names=self.names,
                cluster=cluster,
                consumer_options=self._consumer_options(),
                topic_of=self._place,
                max_tracked_deliveries=self.max_tracked_deliveries,
                rebalance_grace=self.rebalance_grace,
            )
        if self._forwarder is None:
            self._forwarder = DelayForwarder(
                bootstrap=self.bootstrap,
                group=self.names.delay_group,
                produce=self.produce,
                purge_watermarks=self._purge_watermarks,
                consumer_options={
                    **self._consumer_options(),
                    "fetch_max_wait_ms": int(max(self.fetch_max_wait, 0.1) * 1000),
                },
                lookahead=float(self.delay_steps[0]),
            )
        await self.ensure_queues(queues)
        try:
            await self._consumer.subscribe(topics)
            await self._forwarder.watch(
                {
                    self.names.delay(queue, step): DelayTopic(queue, step)
                    for queue in queues
                    for step in self.delay_steps
                }
            )
        except KafkaError as exc:
            raise KafkaBrokerError(f"cannot consume queues {list(queues)}: {exc!r}") from exc
        return self._consumer

    async def _purge_watermarks(self, partitions: Sequence[Any]) -> dict[Any, int]:
        cluster, _ = await self._started()
        return await cluster.fetch_offsets(self.names.purged_group, partitions)

    async def receive(
        self, queues: Sequence[str], max_messages: int, timeout: float
    ) -> list[Delivery]:
        """Hand out up to ``max_messages`` records of ``queues``, best priority band first."""
        if not queues or max_messages < 1:
            await asyncio.sleep(max(0.0, timeout))
            return []
        topics = [t for queue in queues for t in self.ready_topics(queue)]
        member = await self._member(queues, topics)
        bands = {t: self._places[t][1] for t in topics}
        try:
            return await member.fetch(topics, bands, max_messages, timeout)
        except AioKafkaConnectionError as exc:
            raise KafkaConnectionError(
                f"lost Kafka at {','.join(self.bootstrap)}: {exc!r}"
            ) from exc
        except KafkaError as exc:
            raise KafkaBrokerError(f"fetching from {list(queues)} failed: {exc!r}") from exc

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Mark tasks finished and commit every partition whose commit point moved."""
        if self._consumer is None or not deliveries:
            return
        self._consumer.finish([_handle(d) for d in deliveries])
        await self._consumer.commit()

    async def nack(
        self, deliveries: Sequence[Delivery], *, delay: float = 0.0, counted: bool = True
    ) -> None:
        """Write a new copy of each record (after ``delay``), then commit the old ones.

        ``counted=False`` (never started, only prefetched): the copy carries the count of the
        delivery before this one, so the hand-back does not count.
        """
        if not deliveries:
            return
        eta = time.time() + delay if delay > 0 else None
        await self.produce(
            [
                Envelope(
                    d.queue,
                    d.body,
                    _handle(d).key,
                    d.uuid or "",
                    d.priority,
                    deliveries=d.delivery_count if counted else d.delivery_count - 1,
                    eta=eta,
                )
                for d in deliveries
            ]
        )
        await self.ack(deliveries)

    async def heartbeat(self, deliveries: Sequence[Delivery]) -> None:
        """Keep group membership while every slot is busy (no fetch for a long time)."""
        if self._consumer is not None:
            self._consumer.touch()

    # -- dead letters ------------------------------------------------------------------------

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Produce the record to its queue's dead-letter topic with the reason, then commit."""
        _, producer = await self._started()
        await self.ensure_queues([delivery.queue])
        handle = _handle(delivery)
        receipt = handle.receipt
        envelope = Envelope(
            delivery.queue, delivery.body, handle.key, delivery.uuid or "", delivery.priority
        )
        headers = [
            *envelope.headers(),
            (H_QUEUE, delivery.queue.encode()),
            (H_REASON, reason.encode()),
            (H_DEAD_AT, repr(time.time()).encode()),
            (
                H_ORIGIN,
                f"{receipt.partition.topic}/{receipt.partition.partition}/{receipt.offset}".encode(),
            ),
        ]
        try:
            await producer.send_and_wait(
                self.names.dead(delivery.queue), delivery.body, key=handle.key, headers=headers
            )
        except KafkaError as exc:
            raise KafkaBrokerError(
                f"cannot dead-letter a message of {delivery.queue!r}: {exc!r}"
            ) from exc
        await self.ack([delivery])

    async def dead_letters(self, queue: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Dead letters not requeued yet, oldest first."""
        cluster, _ = await self._started()
        letters = await _management.dead_letters(self, cluster, queue, limit)
        return [letter for letter, _ in letters]

    async def requeue_dead(self, queue: str | None = None, limit: int | None = None) -> int:
        """Send dead letters back to their queues (fresh delivery count), oldest first."""
        cluster, _ = await self._started()
        return await _management.requeue_dead(self, cluster, queue, limit)

    # -- introspection -----------------------------------------------------------------------

    async def stats(self, queues: Sequence[str]) -> list[QueueStats]:
        """Counts from end offsets and the groups' committed offsets (see docs/kafka.md)."""
        cluster, _ = await self._started()
        return await _management.stats(self, cluster, queues, self._consumer)

    def forget_purge_marks(self) -> None:
        """Make this process's consumers read the purge watermarks again."""
        if self._consumer is not None:
            self._consumer.forget_purge_marks()
        if self._forwarder is not None:
            self._forwarder.forget_purge_marks()

    async def purge(self, queues: Sequence[str]) -> int:
        """Skip every ready and delayed record of ``queues`` not yet handed out."""
        cluster, _ = await self._started()
        return await _management.purge(self, cluster, queues, self._consumer)


def _handle(delivery: Delivery) -> Handle:
    receipt = delivery.receipt
    if not isinstance(receipt, Handle):
        raise KafkaBrokerError(
            f"delivery of queue {delivery.queue!r} was not made by a KafkaBroker "
            f"(receipt {receipt!r})"
        )
    return receipt
