"""QTasks on Redis: a broker, storage and global config sharing one connection pool.

``QueueTasks(broker="redis://127.0.0.1:6379/0")`` is all an app needs: the broker brings a
storage and a global config on the same pool. The delivery guarantees, key layout, options
and limits are described in the package README and ``docs/redis.md``.
"""

from qtasks_redis.__about__ import __version__
from qtasks_redis._options import DEFAULT_URL, RedisSettings, parse_settings
from qtasks_redis.broker import RedisBroker
from qtasks_redis.exceptions import (
    QTasksRedisError,
    RedisBrokerConnectionError,
    RedisBrokerError,
    RedisGlobalConfigConnectionError,
    RedisGlobalConfigError,
    RedisStorageConnectionError,
    RedisStorageError,
)
from qtasks_redis.global_config import RedisGlobalConfig
from qtasks_redis.storage import RedisStorage

__all__ = [
    "DEFAULT_URL",
    "QTasksRedisError",
    "RedisBroker",
    "RedisBrokerConnectionError",
    "RedisBrokerError",
    "RedisGlobalConfig",
    "RedisGlobalConfigConnectionError",
    "RedisGlobalConfigError",
    "RedisSettings",
    "RedisStorage",
    "RedisStorageConnectionError",
    "RedisStorageError",
    "__version__",
    "parse_settings",
]
