"""What the three suites share: namespaces, starting and stopping what a factory built."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import pytest

from qtasks.interfaces.component import Component
from qtasks.serializers.json import JsonSerializer

C = TypeVar("C", bound=Component)


def fresh_namespace() -> str:
    """A namespace no other test uses, so suites can share one server."""
    return f"conformance-{uuid.uuid4().hex[:12]}"


class Instances(Generic[C]):
    """Components made during one test: bound to one namespace, started once, all stopped."""

    def __init__(self, factory: Callable[[], C], namespace: str) -> None:
        self._factory = factory
        self.namespace = namespace
        self._started: list[C] = []

    async def new(self) -> C:
        component = self._factory()
        if not any(component is c for c in self._started):
            component.bind(self.namespace, JsonSerializer())
            await component.start()
            self._started.append(component)
        return component

    async def close(self) -> None:
        for component in reversed(self._started):
            await component.stop()


@asynccontextmanager
async def instances(factory: Callable[[], C]) -> AsyncIterator[Instances[C]]:
    """Yield an ``Instances`` for one test and stop everything it started afterwards."""
    made = Instances(factory, fresh_namespace())
    try:
        yield made
    finally:
        await made.close()


def unsupported(flag: bool, reason: str) -> None:
    """Skip the running case when the backend documents the behaviour as unsupported."""
    if not flag:
        pytest.skip(reason)
