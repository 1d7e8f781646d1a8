"""msgpack serializer: smaller and faster than JSON, for deployments that install the extra."""

from __future__ import annotations

from typing import Any

from qtasks.exceptions import ConfigurationError
from qtasks.interfaces.serializer import Serializer

__all__ = ["MsgpackSerializer"]


class MsgpackSerializer(Serializer):
    """msgpack with str/bytes kept apart; needs ``pip install qtasks-core[msgpack]``."""

    name = "MsgpackSerializer"

    def __init__(self) -> None:
        try:
            import msgpack  # noqa: PLC0415 - optional dependency, loaded only when chosen
        except ImportError as exc:
            raise ConfigurationError(
                "MsgpackSerializer needs the msgpack package; install it with: "
                "pip install 'qtasks-core[msgpack]'"
            ) from exc
        self._packb = msgpack.packb
        self._unpackb = msgpack.unpackb

    def dumps(self, value: Any) -> bytes:
        """Encode ``value``; unknown types raise ``TypeError``."""
        data: bytes = self._packb(value, use_bin_type=True)
        return data

    def loads(self, data: bytes) -> Any:
        """Decode msgpack bytes; malformed input raises ``ValueError`` (msgpack's own errors)."""
        return self._unpackb(data, raw=False, strict_map_key=False)
