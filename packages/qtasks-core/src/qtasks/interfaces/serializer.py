"""The Serializer interface: how task messages and records become bytes and back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["Serializer"]


class Serializer(ABC):
    """Turns plain data (dicts, lists, str, numbers, bool, None) into bytes and back.

    Implementations must raise ``TypeError`` or ``ValueError`` for values they cannot encode,
    so the app can name the offending task argument before anything is queued.
    """

    #: A short name stored nowhere but shown in error messages and docs.
    name: str = "serializer"

    @abstractmethod
    def dumps(self, value: Any) -> bytes:
        """Encode ``value``; raise ``TypeError``/``ValueError`` if it cannot be encoded."""

    @abstractmethod
    def loads(self, data: bytes) -> Any:
        """Decode bytes made by ``dumps``; raise ``ValueError`` on malformed input."""

    def can_encode(self, value: Any) -> bool:
        """Whether ``dumps(value)`` would succeed; plain scalars skip the trial encoding.

        Used before a value joins a record, so that one bad value fails its own task rather
        than the batch of records it would be stored with.
        """
        if type(value) in _PLAIN:
            return True
        try:
            self.dumps(value)
        except (TypeError, ValueError):
            return False
        return True


#: Values every serializer encodes, by this interface's contract.
_PLAIN = frozenset({type(None), str, int, bool})
