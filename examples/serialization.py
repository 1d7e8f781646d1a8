"""Serialization: JSON by default, checked before queueing; msgpack; a serializer of your own.

Run it with `python examples/serialization.py`; no server needed. The msgpack part runs when
`qtasks-core[msgpack]` is installed and says so when it is not.
"""

from __future__ import annotations

import json
import math
from datetime import date
from decimal import Decimal
from typing import Any

from qtasks import ConfigurationError, QueueTasks, TaskArgumentError
from qtasks.interfaces import Serializer
from qtasks.serializers import MsgpackSerializer


class TaggedJsonSerializer(Serializer):
    """JSON that also carries Decimal and date values, tagged so they come back as they were."""

    name = "TaggedJsonSerializer"

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, default=self._tag, allow_nan=False).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data, object_hook=self._untag)

    @staticmethod
    def _tag(value: Any) -> dict[str, str]:
        if isinstance(value, Decimal):
            return {"$decimal": str(value)}
        if isinstance(value, date):
            return {"$date": value.isoformat()}
        raise TypeError(f"{type(value).__name__} is not supported")  # the app names the argument

    @staticmethod
    def _untag(raw: dict[str, Any]) -> Any:
        if raw.keys() == {"$decimal"}:
            return Decimal(raw["$decimal"])
        if raw.keys() == {"$date"}:
            return date.fromisoformat(raw["$date"])
        return raw


def json_by_default() -> None:
    app = QueueTasks("json-demo")

    @app.task
    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    @app.task
    def opaque() -> object:
        return object()  # runs fine, but the result cannot be stored

    try:
        app.add_task("mean", [1.0, math.nan])  # NaN is refused: other languages reject it
    except TaskArgumentError as exc:
        print("refused:", exc)
    with app.running():
        print("mean:", app.add_task("mean", [1.0, 2.5], timeout=5).returning)
        stuck = app.add_task("opaque", timeout=5)
        print("unstorable result:", stuck.status, "-", stuck.error)
    print("stored as:", app.aio.serializer.dumps({"to": "Zoë", "n": [1, 2]}))


def msgpack_if_installed() -> None:
    try:
        serializer = MsgpackSerializer()
    except ConfigurationError as exc:  # msgpack is not installed: the error says what to install
        print("msgpack part skipped:", exc)
        return
    app = QueueTasks("msgpack-demo", serializer=serializer)

    @app.task
    def echo(value: dict[str, Any]) -> dict[str, Any]:
        return value

    with app.running():
        print("msgpack:", app.add_task("echo", {"blob": [1, 2, 3]}, timeout=5).returning)
    print("encoded size:", len(serializer.dumps({"blob": [1, 2, 3]})), "bytes")


def custom() -> None:
    app = QueueTasks("custom-serializer-demo", serializer=TaggedJsonSerializer())

    @app.task
    def invoice(amount: Decimal, due: date) -> str:
        return f"{amount * 2} due {due:%d %b %Y}"

    with app.running():
        print(
            "custom:",
            app.add_task("invoice", Decimal("10.15"), date(2026, 3, 1), timeout=5).returning,
        )
    try:
        app.add_task("invoice", 1 + 2j, date(2026, 3, 1))
    except TaskArgumentError as exc:
        print("refused:", exc)


if __name__ == "__main__":
    json_by_default()
    msgpack_if_installed()
    custom()
