from __future__ import annotations

import sys

import pytest

from qtasks.exceptions import ConfigurationError
from qtasks.interfaces import Serializer
from qtasks.serializers import JsonSerializer, MsgpackSerializer

DATA = {"s": "é", "n": [1, 2.5, None, True], "nested": {"k": "v"}}


@pytest.mark.parametrize("serializer", [JsonSerializer(), MsgpackSerializer()])
def test_round_trip(serializer: Serializer) -> None:
    assert serializer.loads(serializer.dumps(DATA)) == DATA


@pytest.mark.parametrize("serializer", [JsonSerializer(), MsgpackSerializer()])
def test_unencodable_values_raise_type_error(serializer: Serializer) -> None:
    with pytest.raises(TypeError):
        serializer.dumps({"x": object()})


@pytest.mark.parametrize("serializer", [JsonSerializer(), MsgpackSerializer()])
def test_malformed_bytes_raise_value_error(serializer: Serializer) -> None:
    with pytest.raises(ValueError):
        serializer.loads(b"\xc1\xff{")


def test_json_is_compact_utf8_and_refuses_nan() -> None:
    json = JsonSerializer()
    assert json.dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    with pytest.raises(ValueError, match="Out of range float"):
        json.dumps(float("nan"))


def test_msgpack_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "msgpack", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'qtasks-core\[msgpack\]'"):
        MsgpackSerializer()
