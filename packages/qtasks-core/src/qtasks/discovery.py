"""URL scheme to backend class, through entry points, so core never imports a backend.

A backend package registers its classes under the groups below, named by scheme::

    [project.entry-points."qtasks.brokers"]
    redis = "qtasks_redis:RedisBroker"

Entry points are read once and loaded only when their scheme is used. A scheme with no
installed package raises an error naming the package to install.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

from qtasks.exceptions import BackendNotInstalledError, ConfigurationError
from qtasks.interfaces.component import Component

__all__ = [
    "GROUPS",
    "KNOWN_PACKAGES",
    "component_class",
    "load_component",
    "redact_url",
    "scheme_of",
]

Kind = Literal["broker", "storage", "global_config"]

GROUPS: dict[str, str] = {
    "broker": "qtasks.brokers",
    "storage": "qtasks.storages",
    "global_config": "qtasks.global_configs",
}

#: Which distribution provides a scheme, for the install hint.
KNOWN_PACKAGES: dict[str, str] = {
    "memory": "qtasks-core",
    "redis": "qtasks-redis",
    "rediss": "qtasks-redis",
    "unix": "qtasks-redis",
    "amqp": "qtasks-rabbitmq",
    "amqps": "qtasks-rabbitmq",
    "kafka": "qtasks-kafka",
}

C = TypeVar("C", bound=Component)


def scheme_of(url: str) -> str:
    """Return the lower-cased scheme of a component URL."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"expected a component URL such as 'redis://127.0.0.1:6379/0', got {url!r}"
        )
    return urlsplit(url).scheme.lower()


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced, safe for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@functools.cache
def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name.lower(): ep for ep in entry_points(group=group)}


def _builtin(kind: str, scheme: str) -> type[Component] | None:
    # The in-memory components work even when core is used from a source tree without its
    # entry points installed.
    if scheme != "memory":
        return None
    from qtasks import memory  # noqa: PLC0415 - avoid the import cycle at module load

    classes: dict[str, type[Component]] = {
        "broker": memory.MemoryBroker,
        "storage": memory.MemoryStorage,
        "global_config": memory.MemoryGlobalConfig,
    }
    return classes[kind]


def component_class(kind: Kind, scheme: str) -> type[Component]:
    """Find the class registered for ``scheme`` in ``kind``'s entry point group."""
    entry = _entry_points(GROUPS[kind]).get(scheme)
    if entry is None:
        builtin = _builtin(kind, scheme)
        if builtin is not None:
            return builtin
        raise BackendNotInstalledError(kind.replace("_", " "), scheme, KNOWN_PACKAGES.get(scheme))
    loaded = entry.load()
    if not (isinstance(loaded, type) and issubclass(loaded, Component)):
        raise ConfigurationError(
            f"entry point {entry.value!r} for {kind} scheme '{scheme}' is not a component class"
        )
    return loaded


def load_component(kind: Kind, url: str, expected: type[C], **options: Any) -> C:
    """Build the ``kind`` component for ``url`` and check it has the expected interface."""
    cls = component_class(kind, scheme_of(url))
    if not issubclass(cls, expected):
        raise ConfigurationError(
            f"{cls.__name__} is registered as a {kind} but does not implement {expected.__name__}"
        )
    return cls.from_url(url, **options)
