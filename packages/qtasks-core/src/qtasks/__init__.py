"""QTasks: an async-native, component-based task queue.

``from qtasks import QueueTasks`` gives the sync-facing app; ``from qtasks.asyncio import
QueueTasks`` the async one it is built on. Everything importable from here is public API.
"""

from qtasks.__about__ import __version__
from qtasks.app import QueueTasks
from qtasks.bound import AsyncTask, SyncTask
from qtasks.call import Call
from qtasks.context import BaseTaskContext, SyncTaskContext, TaskContext
from qtasks.depends import Depends
from qtasks.exceptions import (
    BackendNotInstalledError,
    BrokerConnectionError,
    BrokerError,
    CancelTask,
    ConfigurationError,
    DependencyError,
    GlobalConfigError,
    InjectedArgumentError,
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
    TaskNotFoundError,
    TaskTimeoutError,
    UnknownTaskError,
)
from qtasks.interfaces.executor import Outcome, TaskCall
from qtasks.middleware import TaskMiddleware
from qtasks.plugins import Plugin
from qtasks.state import AsyncState, SyncState
from qtasks.task import Attempt, Task, TaskStatus

__all__ = [
    "AsyncState",
    "AsyncTask",
    "Attempt",
    "BackendNotInstalledError",
    "BaseTaskContext",
    "BrokerConnectionError",
    "BrokerError",
    "Call",
    "CancelTask",
    "ConfigurationError",
    "DependencyError",
    "Depends",
    "GlobalConfigError",
    "InjectedArgumentError",
    "MaxTimeExceededError",
    "MessageDecodeError",
    "Outcome",
    "Plugin",
    "QTasksError",
    "QueueTasks",
    "Retry",
    "StorageConnectionError",
    "StorageError",
    "SyncState",
    "SyncTask",
    "SyncTaskContext",
    "Task",
    "TaskAlreadyRegisteredError",
    "TaskArgumentError",
    "TaskCall",
    "TaskContext",
    "TaskDefinitionError",
    "TaskError",
    "TaskMiddleware",
    "TaskNotFoundError",
    "TaskStatus",
    "TaskTimeoutError",
    "UnknownTaskError",
    "__version__",
]
