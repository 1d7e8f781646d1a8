"""Parsing ``kafka://host:port[,host:port][?option=value&...]`` into broker options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from qtasks.discovery import redact_url
from qtasks_kafka.exceptions import KafkaConfigurationError

__all__ = ["URL_OPTIONS", "parse_url"]


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


#: Options a URL query may set, with how each is read.
URL_OPTIONS: dict[str, Callable[[str], Any]] = {
    "partitions": int,
    "replication_factor": int,
    "priority_bands": _ints,
    "delay_steps": _ints,
    "key_header": str,
    "session_timeout": float,
    "heartbeat_interval": float,
    "rebalance_grace": float,
    "max_tracked_deliveries": int,
    "allow_memory_storage": _bool,
    "enable_idempotence": _bool,
    "compression": str,
    "linger": float,
    "fetch_max_wait": float,
}


def parse_url(url: str) -> tuple[list[str], dict[str, Any]]:
    """Split a broker URL into its bootstrap servers and keyword options."""
    shown = redact_url(url)
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "kafka":
        raise KafkaConfigurationError(
            f"a Kafka broker URL looks like 'kafka://127.0.0.1:9092', got {shown!r}"
        )
    hosts, _, query = rest.partition("?")
    hosts = hosts.rstrip("/")
    servers = [h.strip() for h in hosts.split(",") if h.strip()]
    if not servers:
        raise KafkaConfigurationError(
            f"the Kafka URL {shown!r} names no server; write kafka://HOST:PORT[,HOST:PORT]"
        )
    for server in servers:
        host, colon, port = server.rpartition(":")
        if not colon or not host or not port.isdigit():
            raise KafkaConfigurationError(
                f"Kafka server {server!r} in {shown!r} must be HOST:PORT (for example "
                "127.0.0.1:9092)"
            )
    options: dict[str, Any] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        reader = URL_OPTIONS.get(name)
        if reader is None:
            known = ", ".join(sorted(URL_OPTIONS))
            raise KafkaConfigurationError(
                f"unknown option {name!r} in the Kafka URL {shown!r}; known options: {known}"
            )
        try:
            options[name] = reader(value)
        except ValueError as exc:
            raise KafkaConfigurationError(
                f"option {name!r} in the Kafka URL {shown!r} is invalid: {exc}"
            ) from None
    return servers, options
