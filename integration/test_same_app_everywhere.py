"""examples/any_broker.py, unchanged, on memory, Redis, RabbitMQ and Kafka: the same results.

Only the URLs differ between runs (``build_app(broker, storage, name)``); the tasks and the mix
of work in ``run(app)`` are the example's own. RabbitMQ runs twice: results in Redis, and with
no storage at all (direct reply-to). Kafka keeps no results, so it gets Redis storage, and
priority bands in its URL, which is how Kafka learns to order by priority.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from .conftest import delete_kafka_topics, delete_rabbitmq_queues, delete_redis_keys

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "any_broker.py"
#: Short group timings: Tansu holds a new group's first join for half the session timeout.
KAFKA_OPTIONS = "priority_bands=-1,4&session_timeout=1.5&heartbeat_interval=0.3&rebalance_grace=0.5"

#: What the example prints on every broker (also shown in docs/any-broker.md).
EXPECTED: dict[str, Any] = {
    "add": 5,
    "squares": [0, 1, 4, 9, 16],
    "flaky": "job-1 after 3 attempts",
    "flaky_retries": 2,
    "delayed": 42,
    "delay_held": True,
    "pipeline": "orders: CLEAN AFTER LOAD ORDERS",
    "pipeline_progress": ["load orders", "clean after LOAD ORDERS"],
    "priority_order": ["high", "normal", "low"],
    "error": ("error", "ZeroDivisionError: division by zero"),
}


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("any_broker_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_options(url: str, options: str) -> str:
    return url + ("&" if "?" in url else "?") + options


def test_the_same_app_gives_the_same_results_on_every_broker(
    redis_url: str, amqp_url: str, kafka_url: str
) -> None:
    example = load_example()
    runs: dict[str, tuple[str | None, str | None, tuple[str, str]]] = {
        "memory": (None, None, ("MemoryBroker", "MemoryStorage")),
        "redis": (redis_url, None, ("RedisBroker", "RedisStorage")),
        "rabbitmq, redis storage": (amqp_url, redis_url, ("RabbitMQBroker", "RedisStorage")),
        "rabbitmq, direct reply-to": (amqp_url, None, ("RabbitMQBroker", "DirectReplyStorage")),
        "kafka, redis storage": (
            with_options(kafka_url, KAFKA_OPTIONS),
            redis_url,
            ("KafkaBroker", "RedisStorage"),
        ),
    }
    results: dict[str, dict[str, Any]] = {}
    for label, (broker, storage, components) in runs.items():
        name = f"same-app-{uuid.uuid4().hex[:10]}"
        try:
            app = example.build_app(broker, storage, name)
            try:
                # The URL alone chose the components: nothing else differs between runs.
                assert (type(app.broker).__name__, type(app.storage).__name__) == components
                results[label] = example.run(app)
            finally:
                app.close()
        finally:
            if "redis" in (broker or "") + (storage or ""):
                delete_redis_keys(redis_url, name)
            if broker and broker.startswith("amqp"):
                anyio.run(delete_rabbitmq_queues, broker, name)
            if broker and broker.startswith("kafka"):
                anyio.run(delete_kafka_topics, broker, name)
    assert results["memory"] == EXPECTED
    different = {label: got for label, got in results.items() if got != EXPECTED}
    assert not different, f"expected on every broker: {EXPECTED}"
