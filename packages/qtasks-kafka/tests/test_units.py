"""Pure parts: topic names, URL options, delay planning, record headers."""

from __future__ import annotations

import pytest

from qtasks.exceptions import ConfigurationError
from qtasks_kafka import DEFAULT_DELAY_STEPS, KafkaBroker, KafkaConfigurationError
from qtasks_kafka._delays import plan_hop
from qtasks_kafka._envelope import Envelope, read_headers
from qtasks_kafka._names import Names, escape, unescape
from qtasks_kafka._settings import parse_url


@pytest.mark.parametrize("name", ["default", "my.app", "a_b", "émoji 🚀", "x/y:z", ""])
def test_escape_round_trips_and_is_a_legal_dot_free_piece(name: str) -> None:
    piece = escape(name)
    assert unescape(piece) == name
    assert "." not in piece
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in piece)


def test_topic_and_group_names() -> None:
    names = Names("shop.v2")
    assert names.ready("emails") == "qtasks.shop_2ev2.emails"
    assert names.ready("emails", 2) == "qtasks.shop_2ev2.emails.band-2"
    assert names.delay("emails", 16) == "qtasks.shop_2ev2.emails.delay-16s"
    assert names.dead("a.b") == "qtasks.shop_2ev2.a_2eb.dead"
    assert names.dead_queue("qtasks.shop_2ev2.a_2eb.dead") == "a.b"
    assert names.dead_queue("qtasks.shop_2ev2.a_2eb") is None
    assert names.dead_queue("qtasks.other.q.dead") is None
    assert names.group == "qtasks.shop_2ev2"
    assert names.seen_group(2) == "qtasks.shop_2ev2.seen-2"
    assert {names.delay_group, names.purged_group, names.requeued_group} == {
        "qtasks.shop_2ev2.delays",
        "qtasks.shop_2ev2.purged",
        "qtasks.shop_2ev2.requeued",
    }


def test_an_overlong_topic_name_is_refused_naming_the_queue() -> None:
    with pytest.raises(ConfigurationError, match="queue 'qqqq"):
        Names("app").ready("q" * 300)


def test_url_parsing() -> None:
    servers, options = parse_url(
        "kafka://127.0.0.1:9092,127.0.0.2:9093/?partitions=3&priority_bands=-1,5"
        "&allow_memory_storage=yes&session_timeout=4.5&delay_steps=1,10"
    )
    assert servers == ["127.0.0.1:9092", "127.0.0.2:9093"]
    assert options == {
        "partitions": 3,
        "priority_bands": (-1, 5),
        "allow_memory_storage": True,
        "session_timeout": 4.5,
        "delay_steps": (1, 10),
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://127.0.0.1:6379", "looks like 'kafka://"),
        ("kafka://", "names no server"),
        ("kafka://127.0.0.1", "must be HOST:PORT"),
        ("kafka://127.0.0.1:9092?colour=blue", "unknown option 'colour'"),
        ("kafka://127.0.0.1:9092?partitions=many", "option 'partitions'"),
        ("kafka://127.0.0.1:9092?allow_memory_storage=maybe", "true or false"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(KafkaConfigurationError, match=message):
        parse_url(url)


def test_broker_from_url_and_bad_settings() -> None:
    broker = KafkaBroker.from_url("kafka://127.0.0.1:9092?partitions=4", linger=0.01)
    assert broker.bootstrap == ["127.0.0.1:9092"]
    assert (broker.partitions, broker.linger) == (4, 0.01)
    assert KafkaBroker("a:1,b:2").bootstrap == ["a:1", "b:2"]
    with pytest.raises(KafkaConfigurationError, match="priority_bands"):
        KafkaBroker(priority_bands=(5, 1))
    with pytest.raises(KafkaConfigurationError, match="delay_steps"):
        KafkaBroker(delay_steps=())
    with pytest.raises(KafkaConfigurationError, match="partitions"):
        KafkaBroker(partitions=0)


def test_priority_bands() -> None:
    broker = KafkaBroker(priority_bands=(-1, 5))
    assert [broker.band_of(p) for p in (-9, -1, 0, 5, 6, 100)] == [0, 0, 1, 1, 2, 2]
    broker.bind("app", broker.serializer)
    assert broker.ready_topics("q") == [
        "qtasks.app.q",
        "qtasks.app.q.band-1",
        "qtasks.app.q.band-2",
    ]
    assert KafkaBroker().band_of(42) == 0


def test_plan_hop_never_releases_early_and_prefers_big_steps() -> None:
    steps = DEFAULT_DELAY_STEPS
    assert plan_hop(100.0, 100.0, steps) == (None, 100.0)
    assert plan_hop(99.0, 100.0, steps) == (None, 100.0)
    assert plan_hop(100.4, 100.0, steps) == (1, 100.4)  # below the smallest step: exact
    assert plan_hop(103.0, 100.0, steps) == (1, 101.0)
    assert plan_hop(130.0, 100.0, steps) == (16, 116.0)
    assert plan_hop(100.0 + 10**6, 100.0, steps) == (4096, 4196.0)


def test_plan_hop_reaches_the_due_time_in_few_hops() -> None:
    steps = DEFAULT_DELAY_STEPS
    for delay in (0.3, 1, 2.5, 7, 59, 60, 61, 3599, 7200):
        now, eta, hops = 1000.0, 1000.0 + delay, 0
        while True:
            step, release = plan_hop(eta, now, steps)
            if step is None:
                break
            assert release <= eta
            now, hops = release, hops + 1
        assert now == pytest.approx(eta)
        assert hops <= 3 * len(steps) + 2


def test_headers_round_trip_and_tolerate_garbage() -> None:
    envelope = Envelope("q", b"x", b"k", "u-1", -3, deliveries=2, eta=12.5)
    info = read_headers(envelope.headers(release=11.0))
    assert (info.uuid, info.priority, info.deliveries, info.eta, info.release) == (
        "u-1",
        -3,
        2,
        12.5,
        11.0,
    )
    plain = read_headers(Envelope("q", b"x", None, "", 0).headers())
    assert (plain.uuid, plain.deliveries, plain.eta) == (None, 0, None)
    garbage = read_headers(
        [("qtasks-priority", b"high"), ("qtasks-eta", b"nan"), ("qtasks-uuid", b"\xff")]
    )
    assert (garbage.priority, garbage.eta, garbage.uuid) == (0, None, None)
    assert read_headers(None).priority == 0


def test_record_key_is_the_uuid_or_the_configured_header() -> None:
    from qtasks.interfaces.broker import OutgoingMessage
    from qtasks.message import TaskMessage

    message = TaskMessage("u-1", "t", (), {}, 0, "q", 0.0, headers={"customer": 42})
    body = message.encode(KafkaBroker().serializer)
    plain = KafkaBroker()
    assert plain._key(OutgoingMessage("u-1", "q", 0, body)) == b"u-1"
    keyed = KafkaBroker(key_header="customer")
    assert keyed._key(OutgoingMessage("u-1", "q", 0, body)) == b"42"
    other = TaskMessage("u-2", "t", (), {}, 0, "q", 0.0).encode(keyed.serializer)
    assert keyed._key(OutgoingMessage("u-2", "q", 0, other)) == b"u-2"  # header missing
    assert keyed._key(OutgoingMessage("", "q", 0, b"\xff raw")) is None  # no uuid, no body
