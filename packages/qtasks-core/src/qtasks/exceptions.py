"""Every error QTasks raises, under one root so callers can catch the whole family.

The tree::

    QTasksError
    ├── ConfigurationError            the app or a component was set up wrongly
    │   ├── BackendNotInstalledError  a URL scheme has no installed package
    │   ├── TaskAlreadyRegisteredError
    │   └── TaskDefinitionError       a task's options or signature cannot work
    ├── TaskError                     about one task: carries task_name and uuid
    │   ├── UnknownTaskError          no task of that name is registered
    │   ├── TaskArgumentError         arguments the serializer cannot encode (also a TypeError)
    │   ├── InjectedArgumentError     a value given for a parameter Depends fills (a TypeError)
    │   ├── DependencyError           a Depends provider failed before the task could run
    │   ├── TaskTimeoutError          waiting for a result ran out of time
    │   ├── TaskNotFoundError         no record of that uuid (never queued, or expired)
    │   └── MaxTimeExceededError      the task ran longer than its max_time
    ├── BrokerError
    │   └── BrokerConnectionError
    ├── StorageError
    │   └── StorageConnectionError
    ├── GlobalConfigError
    └── MessageDecodeError            bytes on a queue that are not a task message

Control flow, raised by task code and caught by the executor (not errors of QTasks itself):
``Retry`` asks for another attempt after a delay; ``CancelTask`` ends the task as cancelled.
Both hold their fields so plugins and the worker can read them.
"""

from __future__ import annotations

__all__ = [
    "BackendNotInstalledError",
    "BrokerConnectionError",
    "BrokerError",
    "CancelTask",
    "ConfigurationError",
    "DependencyError",
    "GlobalConfigError",
    "InjectedArgumentError",
    "MaxTimeExceededError",
    "MessageDecodeError",
    "QTasksError",
    "Retry",
    "StorageConnectionError",
    "StorageError",
    "TaskAlreadyRegisteredError",
    "TaskArgumentError",
    "TaskDefinitionError",
    "TaskError",
    "TaskNotFoundError",
    "TaskTimeoutError",
    "UnknownTaskError",
]


class QTasksError(Exception):
    """Root of every exception QTasks raises."""


class ConfigurationError(QTasksError):
    """The app or one of its components was configured in a way that cannot work."""


class BackendNotInstalledError(ConfigurationError):
    """A component URL names a scheme that no installed package provides."""

    def __init__(self, kind: str, scheme: str, package: str | None) -> None:
        self.kind = kind
        self.scheme = scheme
        self.package = package
        if package is None:
            hint = "no QTasks package is known for it; check the URL or pass a component object"
        else:
            hint = f"install it with: pip install {package}"
        super().__init__(f"no {kind} is registered for the URL scheme '{scheme}://'; {hint}")


class TaskAlreadyRegisteredError(ConfigurationError):
    """Two tasks were registered under one name; the second would silently shadow the first."""

    def __init__(self, name: str, existing: str, new: str) -> None:
        self.task_name = name
        super().__init__(
            f"task name '{name}' is already registered by {existing}; {new} cannot use it too. "
            "Give one of them another name with @app.task(name=...)"
        )


class TaskDefinitionError(ConfigurationError):
    """A task's options or signature are inconsistent (found when it is registered)."""

    def __init__(self, task_name: str, message: str) -> None:
        self.task_name = task_name
        super().__init__(f"task '{task_name}': {message}")


class TaskError(QTasksError):
    """An error about one task; ``task_name`` and ``uuid`` say which."""

    def __init__(self, message: str, *, task_name: str | None = None, uuid: str | None = None):
        self.task_name = task_name
        self.uuid = uuid
        super().__init__(message)


class UnknownTaskError(TaskError):
    """A task name that is not registered with the app."""

    def __init__(self, task_name: str, known: list[str], *, uuid: str | None = None) -> None:
        self.known = sorted(known)
        listing = ", ".join(self.known) if self.known else "(none)"
        super().__init__(
            f"unknown task '{task_name}'; registered tasks are: {listing}",
            task_name=task_name,
            uuid=uuid,
        )


class TaskArgumentError(TaskError, TypeError):
    """An argument cannot be encoded by the serializer; raised before anything is queued."""

    def __init__(self, task_name: str, argument: str, value: object, cause: str, serializer: str):
        self.argument = argument
        super().__init__(
            f"task '{task_name}': argument {argument} of type {type(value).__name__} cannot be "
            f"encoded by {serializer} ({cause}). Pass a JSON-compatible value (str, int, float, "
            "bool, None, list, dict) or give the app a serializer that handles this type",
            task_name=task_name,
        )


class InjectedArgumentError(TaskError, TypeError):
    """``add_task`` was given a value for a parameter that is injected at run time."""

    def __init__(self, task_name: str, names: list[str]) -> None:
        self.names = sorted(names)
        listing = ", ".join(f"'{n}'" for n in self.names)
        super().__init__(
            f"task '{task_name}': {listing} filled in by the worker (Depends, State or the "
            "task context); do not pass it to add_task",
            task_name=task_name,
        )


class DependencyError(TaskError):
    """A ``Depends`` provider failed while a task's arguments were prepared; the attempt fails.

    ``provider`` names the provider; the original exception is the ``__cause__``.
    """

    def __init__(self, task_name: str, uuid: str, provider: str, cause: BaseException) -> None:
        self.provider = provider
        super().__init__(
            f"dependency {provider} of task '{task_name}' failed: {type(cause).__name__}: {cause}",
            task_name=task_name,
            uuid=uuid,
        )


class TaskTimeoutError(TaskError, TimeoutError):
    """Waiting for a task's result ran out of time; the task itself may still finish later."""

    def __init__(self, task_name: str | None, uuid: str, timeout: float) -> None:
        self.timeout = timeout
        name = f"'{task_name}'" if task_name else "(unknown name)"
        super().__init__(
            f"task {name} ({uuid}) did not finish within {timeout:g} s; it may still run. "
            "Wait longer, or check that a worker is running for its queue",
            task_name=task_name,
            uuid=uuid,
        )


class TaskNotFoundError(TaskError, LookupError):
    """No record of a uuid: the task was never queued here, or its record expired."""

    def __init__(self, uuid: str) -> None:
        super().__init__(
            f"no task {uuid} is stored: it was never queued with this app (check the uuid and "
            "the app name), or its record expired after the storage's result_ttl",
            uuid=uuid,
        )


class MaxTimeExceededError(TaskError, TimeoutError):
    """A task ran longer than its ``max_time``; stored as the task's error."""

    def __init__(self, task_name: str, uuid: str, max_time: float) -> None:
        self.max_time = max_time
        super().__init__(
            f"task '{task_name}' ({uuid}) exceeded its max_time of {max_time:g} s",
            task_name=task_name,
            uuid=uuid,
        )


class BrokerError(QTasksError):
    """A broker failed to send, receive or settle messages."""


class BrokerConnectionError(BrokerError, ConnectionError):
    """The broker cannot be reached; the message names the URL without its password."""


class StorageError(QTasksError):
    """A storage failed to save or load task records."""


class StorageConnectionError(StorageError, ConnectionError):
    """The storage cannot be reached; the message names the URL without its password."""


class GlobalConfigError(QTasksError):
    """The global config failed to read, write or publish."""


class MessageDecodeError(QTasksError):
    """Bytes taken from a queue are not a valid task message; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Retry(Exception):  # noqa: N818 - a request, not an error
    """Raised by task code to ask for another attempt.

    ``delay`` overrides the task's backoff for this retry; ``reason`` is stored with the attempt.
    A task asking for more retries than its ``retry=`` allows ends as an error.
    """

    def __init__(self, reason: str = "", *, delay: float | None = None) -> None:
        self.reason = reason
        self.delay = delay
        super().__init__(reason or "retry requested")


class CancelTask(Exception):  # noqa: N818 - a request, not an error
    """Raised (usually through ``ctx.cancel``) to end a task as status ``cancel``."""

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        super().__init__(reason or "cancelled")
