from __future__ import annotations

import uuid

import pytest
import redis

from qtasks_redis import keys


def test_queue_keys_share_one_cluster_slot() -> None:
    for namespace, queue in [("app", "default"), ("a:b", "c"), ("we{ird}", "q}x{"), ("%", ":")]:
        names = keys.queue_keys(namespace, queue).all()
        assert len(set(names)) == 9
        assert len({keys.hash_slot(k) for k in names}) == 1


def test_names_cannot_collide_across_apps_and_queues() -> None:
    assert keys.queue_keys("a:b", "c").ready != keys.queue_keys("a", "b:c").ready
    assert keys.queue_keys("a{", "b").ready != keys.queue_keys("a", "{b").ready
    assert keys.task_key("a:task", "x") != keys.task_key("a", "task:x")


def test_config_keys_share_the_index_slot() -> None:
    slot = keys.hash_slot(keys.config_index_key("app"))
    assert keys.hash_slot(keys.config_key("app", "worker:1")) == slot
    assert keys.hash_slot(keys.queues_key("app")) == slot


def test_hash_slot_matches_the_redis_cluster_specification() -> None:
    # Values from the Redis Cluster specification and CLUSTER KEYSLOT.
    assert keys.hash_slot("123456789") == 0x31C3 % 16384
    assert keys.hash_slot("foo") == 12182
    assert keys.hash_slot("{user1000}.following") == keys.hash_slot("{user1000}.followers")
    assert keys.hash_slot("somekey") == 11058
    # An empty tag does not count: the whole key is hashed.
    assert keys.hash_slot("foo{}{bar}") != keys.hash_slot("bar")
    assert keys.hash_slot("a{}") == keys.hash_slot(b"a{}")
    assert keys.hash_slot("foo{{bar}}zap") == keys.hash_slot("{bar")


def test_message_ids_carry_priority_and_uuid() -> None:
    assert keys.parse_message_id(b"000000000000000a:-3:abc:def") == (-3, "abc:def")
    assert keys.parse_message_id(b"000000000000000a:7:") == (7, None)
    with pytest.raises(ValueError):
        keys.parse_message_id(b"garbage")


def test_wire_names_are_readable() -> None:
    assert keys.queue_keys("shop", "emails").ready == "qtasks:{shop:emails}:ready"
    assert keys.task_key("shop", "u1") == "qtasks:shop:task:u1"
    assert keys.done_channel("shop", "u1") == "qtasks:shop:done:u1"
    assert keys.pubsub_channel("shop", "control") == "qtasks:shop:chan:control"


def test_group_by_slot_keeps_first_seen_order_and_one_slot_per_group() -> None:
    names = ["{a}1", "{b}1", "{a}2", "{c}1", "{b}2", "{a}3"]
    groups = keys.group_by_slot(names)
    assert groups == [[0, 2, 5], [1, 4], [3]]
    records = [keys.task_key("app", f"uuid-{i}") for i in range(300)]
    grouped = keys.group_by_slot(records)
    assert sorted(i for group in grouped for i in group) == list(range(300))
    for group in grouped:
        assert len({keys.hash_slot(records[i]) for i in group}) == 1
    assert len(grouped) > 250  # untagged records spread over (nearly) one slot each
    assert keys.group_by_slot([]) == []


def test_app_key_patterns_find_every_key_of_one_app_and_no_other(raw: redis.Redis) -> None:
    stamp = uuid.uuid4().hex[:8]
    apps = [f"p{stamp}*[x]", f"p{stamp}*[x]:more", f"p{stamp}*[x]more"]  # glob chars, prefixes

    def keys_of(namespace: str) -> set[str]:
        return {
            *keys.queue_keys(namespace, "default").all(),
            keys.queues_key(namespace),
            keys.config_index_key(namespace),
            keys.config_key(namespace, "worker:1"),
            keys.task_key(namespace, "0f8fad5b"),
        }

    made = {namespace: keys_of(namespace) for namespace in apps}
    try:
        for names in made.values():
            raw.mset(dict.fromkeys(names, b"1"))
        for namespace, names in made.items():
            found = {
                key.decode()
                for pattern in keys.app_key_patterns(namespace)
                for key in raw.scan_iter(match=pattern, count=1000)
            }
            assert found == names, namespace
    finally:
        raw.delete(*(key for names in made.values() for key in names))
