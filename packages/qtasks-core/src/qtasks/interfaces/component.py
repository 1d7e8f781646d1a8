"""Lifecycle and wiring shared by the broker, storage and global config."""

from __future__ import annotations

from typing import Any

from typing_extensions import Self

from qtasks.exceptions import ConfigurationError
from qtasks.interfaces.serializer import Serializer
from qtasks.serializers.json import JsonSerializer

__all__ = ["Component"]


class Component:
    """Base of every pluggable backend component.

    The app calls ``bind`` once, before ``start``, to hand over its name (the namespace for
    keys, queues and channels) and its serializer, so a component built by hand needs neither.
    ``start`` and ``stop`` may be called more than once over the app's life: a producer starts
    components lazily, a worker stops them when it exits, and a later ``add_task`` starts them
    again. Implementations keep both idempotent.
    """

    namespace: str = "qtasks"
    serializer: Serializer

    def __init__(self) -> None:
        self.serializer = JsonSerializer()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """Build the component from a URL; backends that register a scheme override this."""
        raise ConfigurationError(f"{cls.__name__} cannot be built from a URL ({url!r})")

    def bind(self, namespace: str, serializer: Serializer) -> None:
        """Receive the app's name and serializer before the first ``start``."""
        self.namespace = namespace
        self.serializer = serializer

    async def start(self) -> None:
        """Open connections; the default has nothing to open."""

    async def stop(self) -> None:
        """Close connections; the default has nothing to close."""
