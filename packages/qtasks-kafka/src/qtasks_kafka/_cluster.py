"""Cluster-wide calls outside the hot path: topics, offsets of any group, reading a topic range.

Offset stores are consumer groups that no consumer ever joins: committing an offset for such a
group needs no membership (generation -1), works on Apache Kafka and on Tansu, and survives
restarts of our processes. They hold the little durable state this backend keeps per
partition (how far records were delivered, purged, requeued), with one request per write.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import for_code
from aiokafka.protocol.commit import OffsetCommitRequest, OffsetFetchRequest
from aiokafka.protocol.coordination import FindCoordinatorRequest
from aiokafka.structs import ConsumerRecord

__all__ = ["Cluster", "TopicSpec"]

logger = logging.getLogger("qtasks.kafka")

_TOPIC_ALREADY_EXISTS = 36
_RETRIABLE_COORDINATOR_ERRORS = {14, 15, 16}  # load in progress, not available, not coordinator


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create if missing."""

    name: str
    partitions: int
    replication_factor: int


class Cluster:
    """An admin client, a plain client for offset stores and a group-less reader."""

    def __init__(self, bootstrap: list[str], client_options: Mapping[str, Any]) -> None:
        self._bootstrap = bootstrap
        self._options = dict(client_options)
        self._admin: Any = None
        self._client: Any = None
        self._reader: Any = None
        self._coordinators: dict[str, int] = {}
        self._known_topics: set[str] = set()

    async def start(self) -> None:
        """Connect the admin client and the offset-store client."""
        if self._admin is not None:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, **self._options)
        client = AIOKafkaClient(bootstrap_servers=self._bootstrap, **self._options)
        try:
            await admin.start()
            await client.bootstrap()
        except BaseException:
            await admin.close()
            await client.close()
            raise
        self._admin, self._client = admin, client

    async def close(self) -> None:
        """Close every connection (idempotent)."""
        admin, client, reader = self._admin, self._client, self._reader
        self._admin = self._client = self._reader = None
        self._coordinators.clear()
        self._known_topics.clear()
        for closer in (
            reader.stop() if reader is not None else None,
            admin.close() if admin is not None else None,
            client.close() if client is not None else None,
        ):
            if closer is not None:
                try:
                    await closer
                except Exception:
                    logger.debug("closing a Kafka client failed", exc_info=True)

    # -- topics ------------------------------------------------------------------------------

    async def ensure_topics(self, specs: Iterable[TopicSpec]) -> None:
        """Create the topics not known to exist yet, in one request."""
        missing = {s.name: s for s in specs if s.name not in self._known_topics}
        if not missing:
            return
        response = await self._admin.create_topics(
            [NewTopic(s.name, s.partitions, s.replication_factor) for s in missing.values()]
        )
        for topic, code, *rest in response.topic_errors:
            if code not in (0, _TOPIC_ALREADY_EXISTS):
                message = rest[0] if rest else None
                raise for_code(code)(f"cannot create topic {topic!r}: {message or code}")
        self._known_topics.update(missing)

    async def list_topics(self) -> list[str]:
        """Every topic of the cluster."""
        topics: list[str] = await self._admin.list_topics()
        self._known_topics.update(topics)
        return topics

    async def partitions(self, topics: Sequence[str]) -> list[TopicPartition]:
        """The partitions of ``topics`` (topics that do not exist have none)."""
        if not topics:
            return []
        response = await self._admin.describe_topics(list(topics))
        out: list[TopicPartition] = []
        for entry in response:
            if entry.get("error_code", 0):
                continue
            out.extend(
                TopicPartition(entry["topic"], part["partition"])
                for part in entry.get("partitions", [])
            )
        return sorted(out)

    # -- offsets -----------------------------------------------------------------------------

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The offset the next record of each partition will get."""
        if not partitions:
            return {}
        reader = await self._reader_consumer()
        parts = list(dict.fromkeys(partitions))
        listed: dict[TopicPartition, int] = await reader.end_offsets(parts)
        # Some servers (Tansu 0.6) answer ListOffsets with the end of the last batch's *first*
        # record; a fetch response's high watermark is always right, so fetch the tail once.
        reader.assign(parts)
        for tp in parts:
            reader.seek(tp, max(0, listed.get(tp, 0) - 1))
        ends: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + 5.0
        while len(ends) < len(parts) and time.monotonic() < deadline:
            waiting = [tp for tp in parts if tp not in ends]
            await reader.getmany(*waiting, timeout_ms=100)
            for tp in waiting:
                highwater = reader.highwater(tp)
                if highwater is not None:
                    ends[tp] = max(int(highwater), listed.get(tp, 0))
        for tp in parts:
            ends.setdefault(tp, listed.get(tp, 0))
        return ends

    async def beginning_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """The oldest offset still stored for each partition."""
        if not partitions:
            return {}
        reader = await self._reader_consumer()
        starts: dict[TopicPartition, int] = await reader.beginning_offsets(list(partitions))
        return starts

    async def _coordinator(self, group: str) -> int:
        node = self._coordinators.get(group)
        if node is None:
            response = await self._client.send(
                self._client.get_random_node(), FindCoordinatorRequest(group, 0)
            )
            if response.error_code:
                raise for_code(response.error_code)(f"no coordinator for group {group!r}")
            node = self._coordinators[group] = int(response.coordinator_id)
        return node

    async def fetch_offsets(
        self, group: str, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """Committed offsets of ``group``; partitions without one are left out."""
        if not partitions:
            return {}
        by_topic: dict[str, list[int]] = defaultdict(list)
        for tp in partitions:
            by_topic[tp.topic].append(tp.partition)
        request = OffsetFetchRequest(group, list(by_topic.items()))
        response = await self._send_to_coordinator(group, request)
        out: dict[TopicPartition, int] = {}
        for topic, parts in response.topics:
            for partition, offset, _metadata, code in parts:
                if code:
                    raise for_code(code)(f"cannot read offsets of group {group!r} on {topic}")
                if offset >= 0:
                    out[TopicPartition(topic, partition)] = int(offset)
        return out

    async def commit_offsets(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Store ``offsets`` under ``group`` (an offset store nobody joins)."""
        if not offsets:
            return
        by_topic: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for tp, offset in offsets.items():
            by_topic[tp.topic].append((tp.partition, offset, ""))
        request = OffsetCommitRequest(
            group,
            OffsetCommitRequest.DEFAULT_GENERATION_ID,
            "",
            OffsetCommitRequest.DEFAULT_RETENTION_TIME,
            list(by_topic.items()),
        )
        response = await self._send_to_coordinator(group, request)
        for topic, parts in response.topics:
            for _partition, code in parts:
                if code:
                    raise for_code(code)(f"cannot store offsets of group {group!r} on {topic}")

    async def _send_to_coordinator(self, group: str, request: Any) -> Any:
        for attempt in range(2):
            node = await self._coordinator(group)
            response = await self._client.send(node, request)
            codes = {code for _, parts in response.topics for *_, code in parts}
            if attempt == 0 and codes & _RETRIABLE_COORDINATOR_ERRORS:
                self._coordinators.pop(group, None)
                continue
            return response
        return response  # pragma: no cover - the loop always returns

    # -- reading -----------------------------------------------------------------------------

    async def _reader_consumer(self) -> Any:
        if self._reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                fetch_max_wait_ms=50,
                **self._options,
            )
            await reader.start()
            self._reader = reader
        return self._reader

    async def read(
        self, tp: TopicPartition, start: int, end: int, limit: int | None
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Records of ``tp`` from offset ``start`` up to (not including) ``end``."""
        if start >= end or limit == 0:
            return []
        reader = await self._reader_consumer()
        reader.assign([tp])
        reader.seek(tp, start)
        out: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            batch = await reader.getmany(tp, timeout_ms=500)
            records = batch.get(tp, [])
            if not records:
                position = await reader.position(tp)
                if position >= end:
                    return out
                continue
            for record in records:
                if record.offset >= end:
                    return out
                out.append(record)
                if limit is not None and len(out) >= limit:
                    return out
            if records[-1].offset + 1 >= end:
                return out
        logger.warning("reading %s up to offset %d timed out; returning what arrived", tp, end)
        return out
