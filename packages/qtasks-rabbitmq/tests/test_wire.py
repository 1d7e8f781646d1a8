"""Pure functions of the wire format: priorities, delay bits, names (no server needed)."""

from __future__ import annotations

import pytest

from qtasks_rabbitmq import Names, RabbitMQBroker, RabbitMQBrokerError
from qtasks_rabbitmq._wire import (
    MAX_DELAY_MS,
    amqp_priority,
    delay_headers,
    delay_ms,
    header_int,
    qtasks_priority,
    task_properties,
)
from qtasks_rabbitmq.names import HEADER_DELIVERED, HEADER_PRIORITY, delay_bit


def test_lower_qtasks_priorities_map_to_higher_amqp_priorities() -> None:
    mapped = [amqp_priority(p, 10) for p in range(-7, 8)]
    assert mapped == sorted(mapped, reverse=True)
    assert amqp_priority(0, 10) == 5
    assert amqp_priority(-5, 10) == 10
    assert amqp_priority(5, 10) == 0
    assert amqp_priority(-100, 10) == 10  # clamped at the ends
    assert amqp_priority(100, 10) == 0
    assert all(qtasks_priority(amqp_priority(p, 10), 10) == p for p in range(-5, 6))
    assert qtasks_priority(None, 10) == 0


def test_delay_bits_add_up_to_the_delay() -> None:
    for milliseconds in (1, 2, 3, 1000, 1500, 30_000, 86_400_000, MAX_DELAY_MS):
        headers = delay_headers(milliseconds)
        assert len(headers) == milliseconds.bit_length()
        total = sum(2**k for k in range(len(headers)) if headers[delay_bit(k)] == "1")
        assert total == milliseconds
    assert delay_headers(0) == {}


def test_delays_round_up_to_seven_significant_bits_and_are_capped() -> None:
    assert delay_ms(0.0001) == 1
    assert delay_ms(0.127) == 127  # short delays stay exact
    assert delay_ms(1.5) == 1504  # 1500 rounded up to 7 significant bits
    assert delay_ms(1.023) == 1024  # one hop instead of ten
    assert delay_ms(-3) == 0
    for seconds in (0.2, 1.234, 59.9, 3600.5, 86_400 * 3.3):
        milliseconds = delay_ms(seconds)
        assert seconds * 1000 <= milliseconds <= seconds * 1000 * (1 + 1 / 64) + 1
        assert bin(milliseconds).count("1") <= 7
    assert delay_ms(10**9) <= MAX_DELAY_MS
    assert delay_ms(10**9).bit_length() == MAX_DELAY_MS.bit_length()


def test_task_properties_are_persistent_and_fresh() -> None:
    properties = task_properties(uuid="u", priority=-2, max_priority=10, delivered=3)
    assert properties.delivery_mode == 2
    assert properties.priority == 7
    assert properties.correlation_id == "u"
    assert properties.headers == {HEADER_PRIORITY: "-2", HEADER_DELIVERED: 3}
    assert task_properties(uuid="", priority=0, max_priority=10).correlation_id is None


def test_header_int_ignores_foreign_types() -> None:
    assert header_int({"a": 3}, "a", 0) == 3
    assert header_int({"a": True}, "a", 0) == 0
    assert header_int({"a": "-3"}, "a", 7) == -3  # the priority travels as text
    assert header_int({"a": b"4"}, "a", 7) == 4
    assert header_int({"a": "x"}, "a", 7) == 7
    assert header_int({"a": 1.5}, "a", 7) == 7


def test_names_are_namespaced() -> None:
    names = Names("shop")
    assert names.queue("emails") == "shop.q.emails"
    assert names.delay_queue("emails", 4) == "shop.q.emails.delay.4"
    assert names.delay_exchange("emails", 4) == "shop.x.emails.delay.4"
    assert names.dead == "shop.dead"


def test_max_priority_is_checked() -> None:
    with pytest.raises(RabbitMQBrokerError, match="1 to 255"):
        RabbitMQBroker(max_priority=0)
    with pytest.raises(RabbitMQBrokerError, match="1 to 255"):
        RabbitMQBroker(max_priority=256)
