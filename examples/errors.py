"""The errors QTasks raises, what each one carries, and the two requests that are not errors.

Run it with `python examples/errors.py`; no server needed.
"""

from __future__ import annotations

import anyio

from qtasks import (
    BackendNotInstalledError,
    BrokerConnectionError,
    BrokerError,
    CancelTask,
    QTasksError,
    QueueTasks,
    Retry,
    TaskAlreadyRegisteredError,
    TaskError,
    TaskTimeoutError,
    UnknownTaskError,
)
from qtasks.memory import MemoryBroker

app = QueueTasks("errors-demo")
tries = {"flaky": 0}


@app.task(max_time=0.1)
async def slow() -> None:
    await anyio.sleep(5)


@app.task(retry=1, retry_backoff=0)
def flaky() -> str:
    tries["flaky"] += 1
    if tries["flaky"] == 1:
        raise Retry("the upstream said 503")  # a request for another attempt, not an error
    return "ok on attempt 2"


@app.task
def refuse(order: int) -> None:
    raise CancelTask(f"order {order} was withdrawn")  # ends as cancelled, not as error


def print_tree(cls: type[BaseException], depth: int = 0) -> None:
    print("  " * depth + cls.__name__)
    for sub in sorted(cls.__subclasses__(), key=lambda c: c.__name__):
        if sub.__module__ == "qtasks.exceptions":
            print_tree(sub, depth + 1)


class DownBroker(MemoryBroker):
    """Stands for a backend whose server is down."""

    async def start(self) -> None:
        raise BrokerConnectionError("cannot reach redis://:***@10.0.0.5:6379/0")


def main() -> None:
    print_tree(QTasksError)

    try:
        app.registry.require("sned_email")  # what a worker does with a message it cannot run
    except UnknownTaskError as exc:  # a TaskError: carries task_name and uuid
        print("\n" + type(exc).__name__, "-", exc, "- task_name:", exc.task_name)

    try:
        QueueTasks("x", broker="nats://127.0.0.1:4222")
    except BackendNotInstalledError as exc:  # a ConfigurationError
        print(type(exc).__name__, "-", exc)

    try:

        @app.task(name="flaky")
        def another_flaky() -> None: ...

    except TaskAlreadyRegisteredError as exc:
        print(type(exc).__name__, "-", exc)

    try:
        QueueTasks("down", broker=DownBroker()).add_task("anything")
    except BrokerError as exc:  # whatever the backend: its errors inherit the core category
        print(
            type(exc).__name__,
            "-",
            exc,
            "- also a ConnectionError:",
            isinstance(exc, ConnectionError),
        )

    with app.running():
        late = app.add_task("slow")
        try:
            late.wait_result(0.01)
        except TaskTimeoutError as exc:  # also a TimeoutError
            print(type(exc).__name__, "-", exc)
        print("max_time:", late.wait_result(5).error)
        retried = app.add_task("flaky", timeout=5)
        print("Retry:", retried.status, retried.returning, "retries:", retried.retries)
        cancelled = app.add_task("refuse", 42, timeout=5)
        print("CancelTask:", cancelled.status, "-", cancelled.cancel_reason)
    print("TaskError is a QTasksError:", issubclass(TaskError, QTasksError))


if __name__ == "__main__":
    main()
