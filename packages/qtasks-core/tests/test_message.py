from __future__ import annotations

import pytest

from qtasks.exceptions import MessageDecodeError
from qtasks.message import WIRE_VERSION, TaskMessage
from qtasks.serializers import JsonSerializer
from qtasks.task import TaskStatus

JSON = JsonSerializer()


def _message(**changes: object) -> TaskMessage:
    fields: dict[str, object] = {
        "uuid": "u",
        "task_name": "t",
        "args": (1, "a"),
        "kwargs": {"k": [1]},
        "priority": 2,
        "queue": "q",
        "created_at": 10.5,
    }
    fields.update(changes)
    return TaskMessage(**fields)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    message = _message(
        attempt=3,
        parent_uuid="p",
        eta=99.0,
        history=[{"number": 1, "status": "retry", "started_at": 1.0, "finished_at": 2.0}],
    )
    again = TaskMessage.decode(message.encode(JSON), JSON)
    assert again == message


def test_optional_fields_are_left_out_of_the_wire() -> None:
    wire = _message().to_wire()
    assert wire["v"] == WIRE_VERSION
    assert "parent" not in wire and "eta" not in wire and "history" not in wire


def test_record_built_from_a_message() -> None:
    record = _message(parent_uuid="p").record(TaskStatus.NEW, retries=1)
    assert record.status == "new"
    assert record.args == (1, "a")
    assert record.parent_uuid == "p"
    assert record.retries == 1
    assert record.created_at.timestamp() == 10.5


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "cannot decode message with JsonSerializer"),
        (b"{not json", "cannot decode message"),
        (b"[1, 2]", "message must be a mapping, got list"),
        (b'{"v": 99}', "unsupported message version 99"),
        (b'{"v": 1}', "missing field 'uuid'"),
        (b'{"v": 1, "uuid": 5}', "field 'uuid' must be str, got int"),
    ],
)
def test_malformed_bytes_give_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(MessageDecodeError, match=reason):
        TaskMessage.decode(raw, JSON)


def _wire(**changes: object) -> dict[str, object]:
    wire = _message().to_wire()
    wire.update(changes)
    return wire


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"priority": True}, "field 'priority' must be int, got bool"),
        ({"created_at": "now"}, "field 'created_at' must be int or float, got str"),
        ({"args": {"a": 1}}, "field 'args' must be list"),
        ({"parent": 3}, "field 'parent' must be a string"),
        ({"eta": "soon"}, "field 'eta' must be a number"),
        ({"history": {}}, "field 'history' must be a list"),
        ({"history": [{"number": 1}]}, "malformed attempt"),
        ({"kwargs": {1: 2}}, "string keys"),
    ],
)
def test_invalid_fields_are_named(changes: dict[str, object], reason: str) -> None:
    raw = _wire(**changes)
    if "kwargs" in changes:
        # JSON cannot carry int keys; hand the decoded shape straight to validation.
        with pytest.raises(MessageDecodeError, match=reason):
            TaskMessage.from_wire(raw)
        return
    with pytest.raises(MessageDecodeError, match=reason):
        TaskMessage.decode(JSON.dumps(raw), JSON)


def test_attempt_below_one_is_clamped() -> None:
    assert TaskMessage.from_wire(_wire(attempt=0)).attempt == 1
