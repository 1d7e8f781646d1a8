from __future__ import annotations

import pytest

from qtasks.exceptions import ConfigurationError
from qtasks.interfaces.storage import DEFAULT_RESULT_TTL
from qtasks_redis import RedisBroker, RedisStorage, parse_settings


def test_defaults() -> None:
    settings = parse_settings()
    assert settings.url == "redis://127.0.0.1:6379/0"
    assert settings.result_ttl == DEFAULT_RESULT_TTL
    assert settings.visibility_timeout == 30.0
    assert settings.dead_letter_max == 10_000
    assert settings.pending_ttl == 7 * 24 * 3600.0


def test_url_options_are_ours_and_the_rest_goes_to_redis_py() -> None:
    settings = parse_settings(
        "redis://:secret@127.0.0.1:6380/2?visibility_timeout=5&result_ttl=none"
        "&dead_letter_max=10&health_check_interval=3"
    )
    assert settings.visibility_timeout == 5.0
    assert settings.result_ttl is None
    assert settings.dead_letter_max == 10
    assert settings.url == "redis://:secret@127.0.0.1:6380/2?health_check_interval=3"
    assert "secret" not in settings.safe_url


def test_keywords_win_over_the_url() -> None:
    settings = parse_settings("redis://h/0?visibility_timeout=5", visibility_timeout=9, db=3)
    assert settings.visibility_timeout == 9
    assert settings.client_options == {"db": 3}


@pytest.mark.parametrize(
    ("url", "options", "words"),
    [
        ("redis://:pw@h/0?visibility_timeout=soon", {}, ["visibility_timeout", "number"]),
        ("redis://h/0", {"visibility_timeout": 0}, ["visibility_timeout", "> 0"]),
        ("redis://h/0", {"result_ttl": -1}, ["result_ttl"]),
        ("redis://h/0?dead_letter_max=x", {}, ["dead_letter_max", "integer"]),
        ("redis://h/0", {"dead_letter_max": None, "dead_letter_ttl": None}, ["grow"]),
        ("http://h/0", {}, ["redis://"]),
        ("redis://h/0", {"retries": -1}, ["retries"]),
    ],
)
def test_bad_options_name_the_option(
    url: str, options: dict[str, object], words: list[str]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_settings(url, **options)
    message = str(caught.value)
    for word in words:
        assert word in message
    assert "pw" not in message


def test_components_share_the_brokers_connection_and_options() -> None:
    broker = RedisBroker("redis://127.0.0.1:6379/0?result_ttl=60&pending_ttl=600")
    storage = broker.default_storage()
    config = broker.default_global_config()
    assert storage.connection is broker.connection is config.connection
    assert storage.result_ttl == 60
    assert storage.pending_ttl == 600


def test_a_connection_and_a_url_together_are_refused() -> None:
    broker = RedisBroker()
    with pytest.raises(ConfigurationError):
        RedisStorage("redis://h/0", connection=broker.connection)
    with pytest.raises(ConfigurationError):
        RedisBroker("redis://h/0", connection=broker.connection)


def test_schemes_are_registered_for_all_three_groups() -> None:
    from qtasks.discovery import component_class

    for scheme in ("redis", "rediss", "unix"):
        assert component_class("broker", scheme).__name__ == "RedisBroker"
        assert component_class("storage", scheme).__name__ == "RedisStorage"
        assert component_class("global_config", scheme).__name__ == "RedisGlobalConfig"


@pytest.mark.parametrize(
    ("url", "options", "expected"),
    [
        ("redis://127.0.0.1:7000/0?cluster=true", {}, True),
        ("redis://127.0.0.1:7000?cluster=yes&visibility_timeout=5", {}, True),
        ("rediss://127.0.0.1:7000/?cluster=1", {}, True),
        ("redis://127.0.0.1:6379/2?cluster=false", {}, False),
        ("redis://127.0.0.1:7000", {"cluster": True}, True),
        ("redis://127.0.0.1:7000?cluster=true", {"cluster": False}, False),
    ],
)
def test_the_cluster_option(url: str, options: dict[str, object], expected: bool) -> None:
    settings = parse_settings(url, **options)
    assert settings.cluster is expected
    assert "cluster" not in settings.url  # QTasks' option, not redis-py's
    broker = RedisBroker(url, **options)
    assert broker.connection.cluster is expected


@pytest.mark.parametrize(
    ("url", "options", "words"),
    [
        ("redis://:pw@h:7000/3?cluster=true", {}, ["database 0", "/3"]),
        ("unix:///tmp/redis.sock?cluster=true", {}, ["Unix socket", "redis://"]),
        ("redis://:pw@h:7000/0?cluster=maybe", {}, ["cluster", "true or false"]),
        ("redis://:pw@h:7000/0", {"cluster": "yes"}, ["cluster", "True or False"]),
    ],
)
def test_a_cluster_url_that_cannot_work_is_refused(
    url: str, options: dict[str, object], words: list[str]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_settings(url, **options)
    for word in words:
        assert word in str(caught.value)
    assert "pw" not in str(caught.value)
