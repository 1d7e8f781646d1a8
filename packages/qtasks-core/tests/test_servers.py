"""The server harness backend suites rely on: probes, private servers, loopback only."""

from __future__ import annotations

import socket

import pytest

from qtasks.testing.servers import (
    RedisServer,
    free_port,
    probe_amqp,
    probe_kafka,
    probe_redis,
    require_loopback,
    server_missing,
)


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_only_loopback_urls_are_accepted() -> None:
    assert require_loopback("redis://127.0.0.1:6379/0")
    assert require_loopback("amqp://guest:guest@127.0.0.5:5672/")
    assert require_loopback("redis://localhost/0")
    with pytest.raises(pytest.UsageError, match="loopback"):
        require_loopback("redis://10.0.0.1:6379/0")
    with pytest.raises(pytest.UsageError, match="loopback"):
        require_loopback("kafka://example.org:9092")


def test_probes_say_no_where_nothing_listens() -> None:
    port = free_port()
    assert probe_redis("127.0.0.1", port) is False
    assert probe_amqp("127.0.0.1", port) is False
    assert probe_kafka("127.0.0.1", port) is False


def test_a_private_redis_can_be_killed_and_started_again() -> None:
    try:
        server = RedisServer()
    except FileNotFoundError:
        server_missing("redis-server", "the binary is not installed")
    try:
        server.start()
        assert probe_redis("127.0.0.1", server.port)
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        server.stop()
        assert probe_redis("127.0.0.1", server.port) is False
        server.start()
        assert probe_redis("127.0.0.1", server.port)
        assert probe_amqp("127.0.0.1", server.port) is False  # Redis is not AMQP
    finally:
        server.close()


def test_missing_servers_skip_or_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Kafka is not available: gone"):
        server_missing("Kafka", "gone")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        server_missing("Kafka", "gone")


def test_the_redis_fixture_finds_a_server(redis_url: str) -> None:
    parts = redis_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    assert probe_redis(parts[0], int(parts[1]))


def test_the_amqp_fixture_finds_a_server(amqp_url: str) -> None:
    host_port = amqp_url.split("@", 1)[1].split("/", 1)[0].rsplit(":", 1)
    assert probe_amqp(host_port[0], int(host_port[1]))


def test_a_private_redis_fixture_is_its_own_server(private_redis: RedisServer) -> None:
    assert private_redis.port != 6379
    private_redis.stop()
    assert not probe_redis("127.0.0.1", private_redis.port)
