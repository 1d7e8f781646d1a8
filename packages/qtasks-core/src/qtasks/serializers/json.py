"""JSON serializer: the default, readable in any tool that can look into a queue."""

from __future__ import annotations

import json
from typing import Any

from qtasks.interfaces.serializer import Serializer

__all__ = ["JsonSerializer"]


class JsonSerializer(Serializer):
    """Compact UTF-8 JSON; NaN and infinities are refused because other languages reject them."""

    name = "JsonSerializer"

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(
            separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=True
        )
        self._decoder = json.JSONDecoder()

    def dumps(self, value: Any) -> bytes:
        """Encode ``value`` as compact JSON."""
        return self._encoder.encode(value).encode()

    def loads(self, data: bytes) -> Any:
        """Decode JSON bytes; ``ValueError`` (including bad UTF-8) on malformed input."""
        return self._decoder.decode(data.decode())
