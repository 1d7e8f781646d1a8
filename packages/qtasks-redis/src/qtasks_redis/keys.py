"""Every Redis key and channel name QTasks uses, built in this one module.

Layout (``<ns>`` is the app name and ``<q>`` a queue name, both escaped so that ``:``, ``{``,
``}`` and ``%`` inside them cannot make two apps or queues share a key)::

    qtasks:{<ns>:<q>}:ready      zset   message id -> priority; equal priorities pop in id order
    qtasks:{<ns>:<q>}:delayed    zset   message id -> due time (epoch seconds)
    qtasks:{<ns>:<q>}:inflight   zset   message id -> visibility deadline (epoch seconds)
    qtasks:{<ns>:<q>}:body       hash   message id -> message bytes
    qtasks:{<ns>:<q>}:redeliver  hash   message id -> earlier deliveries (only once redelivered)
    qtasks:{<ns>:<q>}:index      hash   task uuid -> message id, while the message is queued
    qtasks:{<ns>:<q>}:wake       list   at most one token: "there is something to fetch"
    qtasks:{<ns>:<q>}:seq        string counter that numbers message ids (FIFO order)
    qtasks:{<ns>:<q>}:dead       stream dead letters: body, reason, uuid, priority, time
    qtasks:{<ns>}:queues         set    queue names this app has used (for stats and dead letters)
    qtasks:{<ns>}:cfg:<key>      string a global-config value
    qtasks:{<ns>}:cfg            zset   global-config key -> expiry time (+inf: none)
    qtasks:<ns>:task:<uuid>      string a task record, ``<status>|<encoded record>``

    channel qtasks:<ns>:done:<uuid>     the final record, published when a task finishes
    channel qtasks:<ns>:chan:<name>     a global-config channel

The text in braces is a Redis Cluster hash tag: every key one queue's scripts touch sits in
the same slot, and so do the global-config keys. Task records carry no tag, so they spread
over every slot of a cluster; on a cluster (``?cluster=true``) the record script, MGET and DEL
are sent once per slot of the records they address (``group_by_slot``), on one server once
per batch.

A message id is ``<16 hex digits of seq>:<priority>:<uuid>``: unique, self-describing (the Lua
scripts read the priority from it when a message returns to the ready set), and, compared as
bytes, in enqueue order, which is how Redis orders zset members of equal score.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "PREFIX",
    "QueueKeys",
    "app_key_patterns",
    "config_index_key",
    "config_key",
    "config_key_prefix",
    "done_channel",
    "escape",
    "group_by_slot",
    "hash_slot",
    "parse_message_id",
    "pubsub_channel",
    "queue_keys",
    "queues_key",
    "task_key",
]

PREFIX = "qtasks"

_ESCAPES = str.maketrans({"%": "%25", ":": "%3A", "{": "%7B", "}": "%7D"})


def escape(part: str) -> str:
    """Escape a name so it can sit between ``:`` separators and inside a hash tag."""
    return part.translate(_ESCAPES)


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys of one queue, in the order every queue script receives them as KEYS."""

    ready: str
    delayed: str
    inflight: str
    body: str
    redeliver: str
    index: str
    wake: str
    seq: str
    dead: str

    def all(self) -> list[str]:
        """The keys in script order (KEYS[1] .. KEYS[9])."""
        return [
            self.ready,
            self.delayed,
            self.inflight,
            self.body,
            self.redeliver,
            self.index,
            self.wake,
            self.seq,
            self.dead,
        ]


def queue_keys(namespace: str, queue: str) -> QueueKeys:
    """Keys of ``queue`` in app ``namespace``; they share one cluster hash tag."""
    base = f"{PREFIX}:{{{escape(namespace)}:{escape(queue)}}}:"
    return QueueKeys(
        ready=base + "ready",
        delayed=base + "delayed",
        inflight=base + "inflight",
        body=base + "body",
        redeliver=base + "redeliver",
        index=base + "index",
        wake=base + "wake",
        seq=base + "seq",
        dead=base + "dead",
    )


def queues_key(namespace: str) -> str:
    """The set of queue names an app has sent to."""
    return f"{PREFIX}:{{{escape(namespace)}}}:queues"


def task_key(namespace: str, uuid: str) -> str:
    """Where the record of task ``uuid`` lives."""
    return f"{PREFIX}:{escape(namespace)}:task:{uuid}"


def done_channel(namespace: str, uuid: str) -> str:
    """The channel on which the final record of ``uuid`` is published."""
    return f"{PREFIX}:{escape(namespace)}:done:{uuid}"


def config_key_prefix(namespace: str) -> str:
    """What every global-config value key of ``namespace`` starts with."""
    return f"{PREFIX}:{{{escape(namespace)}}}:cfg:"


def config_key(namespace: str, key: str) -> str:
    """Where the global-config value ``key`` lives."""
    return config_key_prefix(namespace) + key


#: Characters special in a SCAN MATCH pattern, and how to write them literally.
_GLOB = str.maketrans({c: "\\" + c for c in "*?[]\\"})


def app_key_patterns(namespace: str) -> tuple[str, str, str]:
    """SCAN MATCH patterns covering every key of app ``namespace`` and no other app's.

    Together they match its queues, its global config and its task records, and nothing of
    an app whose name merely starts with this one: what a tool or a test uses to remove an
    app from a server.
    """
    ns = escape(namespace).translate(_GLOB)
    return (f"{PREFIX}:{{{ns}:*", f"{PREFIX}:{{{ns}}}:*", f"{PREFIX}:{ns}:*")


def config_index_key(namespace: str) -> str:
    """The zset of live global-config keys and their expiry times."""
    return f"{PREFIX}:{{{escape(namespace)}}}:cfg"


def pubsub_channel(namespace: str, channel: str) -> str:
    """The Redis channel behind the global-config channel ``channel``."""
    return f"{PREFIX}:{escape(namespace)}:chan:{channel}"


def parse_message_id(mid: bytes) -> tuple[int, str | None]:
    """Return the priority and uuid a message id carries (uuid ``None`` when it has none)."""
    _, priority, uuid = mid.split(b":", 2)
    return int(priority), (uuid.decode() or None)


# -- Redis Cluster slots --------------------------------------------------------------------


def hash_slot(key: str | bytes) -> int:
    """The Redis Cluster slot of ``key`` (CRC16 of its hash tag, or of the whole key).

    Redis' CRC16 is the XMODEM variant, which ``binascii.crc_hqx`` computes in C.
    """
    raw = key.encode() if isinstance(key, str) else key
    start = raw.find(b"{")
    if start != -1:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return binascii.crc_hqx(raw, 0) % 16384


def group_by_slot(names: Sequence[str]) -> list[list[int]]:
    """Positions of ``names`` grouped by cluster slot, groups in order of first appearance.

    A cluster runs a multi-key command or script only when every key is in one slot, so a
    batch of task records (which carry no hash tag) is split this way.
    """
    groups: dict[int, list[int]] = {}
    for position, name in enumerate(names):
        slot = hash_slot(name)
        found = groups.get(slot)
        if found is None:
            groups[slot] = [position]
        else:
            found.append(position)
    return list(groups.values())
