"""Outages: clear errors naming the URL (never the password), and recovery."""

from __future__ import annotations

import pytest

from qtasks.asyncio import QueueTasks
from qtasks.exceptions import BrokerConnectionError, StorageConnectionError
from qtasks.interfaces.broker import OutgoingMessage
from qtasks.testing.servers import RedisServer, free_port
from qtasks_redis import (
    QTasksRedisError,
    RedisBroker,
    RedisBrokerConnectionError,
    RedisGlobalConfig,
    RedisGlobalConfigConnectionError,
    RedisStorage,
    RedisStorageConnectionError,
)

pytestmark = pytest.mark.anyio


def nowhere() -> str:
    return f"redis://:hunter2@127.0.0.1:{free_port()}/0?retries=0&socket_connect_timeout=1"


async def test_a_producer_without_redis_gets_a_broker_connection_error() -> None:
    url = nowhere()
    app = QueueTasks("offline", broker=url)
    try:
        with pytest.raises(BrokerConnectionError) as caught:
            await app.add_task("anything")
    finally:
        await app.stop()
    message = str(caught.value)
    assert isinstance(caught.value, RedisBrokerConnectionError)
    assert isinstance(caught.value, QTasksRedisError)
    assert url.split("@")[1].split("/")[0] in message  # host:port
    assert "hunter2" not in message
    assert "***" in message


async def test_storage_and_config_name_their_own_errors() -> None:
    storage = RedisStorage(nowhere())
    config = RedisGlobalConfig(nowhere())
    await storage.start()
    await config.start()
    try:
        with pytest.raises(StorageConnectionError) as stored:
            await storage.get("x")
        assert isinstance(stored.value, RedisStorageConnectionError)
        with pytest.raises(StorageConnectionError):
            await storage.wait("x", 1)
        with pytest.raises(RedisGlobalConfigConnectionError) as configured:
            await config.get("k")
        assert isinstance(configured.value, ConnectionError)
        assert "hunter2" not in str(stored.value) + str(configured.value)
    finally:
        await storage.stop()
        await config.stop()


async def test_scripts_are_loaded_again_after_the_server_forgets_them(
    private_redis: RedisServer,
) -> None:
    broker = RedisBroker(private_redis.url)
    broker.bind("flush", broker.serializer)
    await broker.start()
    try:
        await broker.send([OutgoingMessage("a", "q", 0, b"1")])
        await broker.connection.client.script_flush()
        await broker.send([OutgoingMessage("b", "q", 0, b"2")])
        got = await broker.receive(["q"], 5, 2)
        assert sorted(d.body for d in got) == [b"1", b"2"]
        await broker.ack(got)
    finally:
        await broker.stop()


async def test_a_restarted_server_is_used_again(private_redis: RedisServer) -> None:
    broker = RedisBroker(private_redis.url)
    broker.bind("restart", broker.serializer)
    await broker.start()
    try:
        await broker.send([OutgoingMessage("a", "q", 0, b"1")])
        private_redis.stop()
        with pytest.raises(BrokerConnectionError):
            await broker.send([OutgoingMessage("b", "q", 0, b"2")])
        private_redis.start()
        await broker.send([OutgoingMessage("c", "q", 0, b"3")])  # reconnects, reloads scripts
        got = await broker.receive(["q"], 5, 2)
        assert [d.body for d in got] == [b"3"]  # the server kept no data (no persistence)
    finally:
        await broker.stop()
