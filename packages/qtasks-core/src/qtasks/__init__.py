"""QTasks: an async-native, component-based task queue.

``from qtasks import QueueTasks`` gives the sync-facing app; ``from qtasks.asyncio import
QueueTasks`` the async one it is built on. Everything importable from here is public API.
"""

from qtasks.__about__ import __version__
from qtasks.app import QueueTasks
from qtasks.bound import AsyncTask, SyncTask
from qtasks.call import Call
from qtasks.context import BaseTaskContext, SyncTaskContext, TaskContext
from qtasks.exceptions import (
    BackendNotInstalledError,
    BrokerConnectionError,
    BrokerError,
    CancelTask,
    ConfigurationError,
    GlobalConfigError,
    MaxTimeExceededError,
    MessageDecodeError,
    QTasksError,
    Retry,
    StorageConnectionError,
    StorageError,
    TaskAlreadyRegisteredError,
    TaskArgumentError,
    TaskDefinitionError,
    TaskError,
    TaskTimeoutError,
    UnknownTaskError,
)
from qtasks.task import Attempt, Task, TaskStatus

__all__ = [
    "AsyncTask",
    "Attempt",
    "BackendNotInstalledError",
    "BaseTaskContext",
    "BrokerConnectionError",
    "BrokerError",
    "Call",
    "CancelTask",
    "ConfigurationError",
    "GlobalConfigError",
    "MaxTimeExceededError",
    "MessageDecodeError",
    "QTasksError",
    "QueueTasks",
    "Retry",
    "StorageConnectionError",
    "StorageError",
    "SyncTask",
    "SyncTaskContext",
    "Task",
    "TaskAlreadyRegisteredError",
    "TaskArgumentError",
    "TaskContext",
    "TaskDefinitionError",
    "TaskError",
    "TaskStatus",
    "TaskTimeoutError",
    "UnknownTaskError",
    "__version__",
]
