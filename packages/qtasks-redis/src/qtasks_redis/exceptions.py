"""Errors of the Redis backend; each also belongs to the matching core category.

The tree::

    QTasksRedisError (QTasksError)
    ├── RedisBrokerError (BrokerError)
    │   └── RedisBrokerConnectionError (BrokerConnectionError)
    ├── RedisStorageError (StorageError)
    │   └── RedisStorageConnectionError (StorageConnectionError)
    └── RedisGlobalConfigError (GlobalConfigError)
        └── RedisGlobalConfigConnectionError (also a ConnectionError)

So ``except BrokerConnectionError`` catches a Redis outage seen by the broker without the
caller knowing which backend is installed. Messages name the URL with its password hidden.
"""

from __future__ import annotations

from qtasks.exceptions import (
    BrokerConnectionError,
    BrokerError,
    GlobalConfigError,
    QTasksError,
    StorageConnectionError,
    StorageError,
)

__all__ = [
    "QTasksRedisError",
    "RedisBrokerConnectionError",
    "RedisBrokerError",
    "RedisGlobalConfigConnectionError",
    "RedisGlobalConfigError",
    "RedisStorageConnectionError",
    "RedisStorageError",
]


class QTasksRedisError(QTasksError):
    """Root of the errors raised by qtasks-redis."""


class RedisBrokerError(QTasksRedisError, BrokerError):
    """Redis answered the broker with an error (a script failed, a key has the wrong type)."""


class RedisBrokerConnectionError(RedisBrokerError, BrokerConnectionError):
    """The broker cannot reach Redis."""


class RedisStorageError(QTasksRedisError, StorageError):
    """Redis answered the storage with an error."""


class RedisStorageConnectionError(RedisStorageError, StorageConnectionError):
    """The storage cannot reach Redis."""


class RedisGlobalConfigError(QTasksRedisError, GlobalConfigError):
    """Redis answered the global config with an error."""


class RedisGlobalConfigConnectionError(RedisGlobalConfigError, ConnectionError):
    """The global config cannot reach Redis."""
