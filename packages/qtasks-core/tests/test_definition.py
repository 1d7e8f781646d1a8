from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from qtasks import QueueTasks, TaskAlreadyRegisteredError, TaskDefinitionError
from qtasks.definition import TaskDefinition, TaskKind


def plain(a: int, b: int = 0) -> int:
    return a + b


async def coro(a: int) -> int:
    return a


def gen() -> Iterator[int]:
    yield 1


async def agen() -> AsyncIterator[int]:
    yield 1


class AsyncCallable:
    async def __call__(self, x: int) -> int:
        return x


class SyncCallable:
    def __call__(self, x: int) -> int:
        return x


@pytest.mark.parametrize(
    ("func", "kind"),
    [
        (plain, TaskKind.SYNC),
        (coro, TaskKind.ASYNC),
        (gen, TaskKind.SYNC_GENERATOR),
        (agen, TaskKind.ASYNC_GENERATOR),
        (functools.partial(coro, 1), TaskKind.ASYNC),
        (AsyncCallable(), TaskKind.ASYNC),
        (SyncCallable(), TaskKind.SYNC),
        (len, TaskKind.SYNC),
    ],
)
def test_kind_detection(func: Any, kind: TaskKind) -> None:
    assert TaskKind.of(func) is kind


def test_kind_properties() -> None:
    assert TaskKind.ASYNC.is_async and not TaskKind.SYNC.is_async
    assert TaskKind.SYNC_GENERATOR.is_generator and not TaskKind.ASYNC.is_generator


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"priority": "high"}, "priority must be an int"),
        ({"priority": True}, "priority must be an int"),
        ({"retry": -1}, "retry must be an int >= 0"),
        ({"retry": 1.5}, "retry must be an int >= 0"),
        ({"retry_backoff": -1}, "retry_backoff must be a number of seconds >= 0"),
        ({"retry_backoff": float("nan")}, "retry_backoff must be"),
        ({"retry_backoff_max": -2}, "retry_backoff_max must be >= 0"),
        ({"max_time": 0}, "max_time must be a number of seconds > 0"),
        ({"max_time": "1"}, "max_time must be"),
        ({"retry_on_exc": ValueError}, "retry_on_exc has no effect with retry=0"),
        ({"retry": 1, "retry_on_exc": "ValueError"}, "retry_on_exc must be an exception class"),
        ({"retry": 1, "retry_on_exc": (ValueError, int)}, "retry_on_exc must be"),
        ({"generate_handler": print}, "generate_handler is only used by generator tasks"),
        ({"queue": ""}, "queue must be a non-empty string"),
    ],
)
def test_bad_options_are_refused_at_registration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskDefinitionError, match=message) as info:
        TaskDefinition(name="job", func=plain, **options)
    assert info.value.task_name == "job"
    assert str(info.value).startswith("task 'job': ")


def test_generate_handler_must_be_callable() -> None:
    with pytest.raises(TaskDefinitionError, match="generate_handler must be callable"):
        TaskDefinition(name="g", func=gen, generate_handler=3)  # type: ignore[arg-type]


def test_not_a_function() -> None:
    with pytest.raises(TaskDefinitionError, match="expected a function, got int"):
        TaskDefinition(name="x", func=3)  # type: ignore[arg-type]
    with pytest.raises(TaskDefinitionError, match="name must be a non-empty string"):
        TaskDefinition(name="", func=plain)


def test_echo_needs_a_parameter() -> None:
    def no_params() -> None:
        return None

    with pytest.raises(TaskDefinitionError, match="echo=True passes the task object"):
        TaskDefinition(name="e", func=no_params, echo=True)


def test_normalisation() -> None:
    d = TaskDefinition(
        name="n", func=plain, retry=2, retry_on_exc=OSError, retry_backoff=True, tags=["a"]
    )
    assert d.retry_on_exc == (OSError,)
    assert d.retry_backoff == 1.0
    assert d.tags == ("a",)
    assert TaskDefinition(name="n", func=plain, retry_backoff=False).retry_backoff == 0.0


def test_description_defaults_to_the_first_docstring_line() -> None:
    def documented() -> None:
        """Send the weekly report.

        Longer text that is not the summary.
        """

    assert TaskDefinition(name="d", func=documented).description == "Send the weekly report."
    assert TaskDefinition(name="d", func=documented, description="x").description == "x"


def test_argument_labels_name_parameters() -> None:
    d = TaskDefinition(name="p", func=plain)
    assert d.argument_label(0) == "'a' (position 0)"
    assert d.argument_label(1) == "'b' (position 1)"
    assert d.argument_label(5) == "at position 5"

    def echoed(self: object, value: int) -> int:
        return value

    assert TaskDefinition(name="e", func=echoed, echo=True).argument_label(0) == (
        "'value' (position 0)"
    )
    assert TaskDefinition(name="l", func=len).argument_label(0) == "'obj' (position 0)"


def test_duplicate_names_fail_at_import_time_naming_both_functions() -> None:
    app = QueueTasks()

    @app.task(name="same")
    def first() -> None:
        return None

    with pytest.raises(TaskAlreadyRegisteredError, match="'same' is already registered by") as info:

        @app.task(name="same")
        def second() -> None:
            return None

    assert "first" in str(info.value) and "second" in str(info.value)
    assert info.value.task_name == "same"
    app.close()


def test_registry_lookup() -> None:
    app = QueueTasks()

    @app.task
    def one() -> int:
        return 1

    assert "one" in app.registry and len(app.registry) == 1
    assert app.registry.names() == ["one"]
    assert [d.name for d in app.registry] == ["one"]
    assert one() == 1  # calling the task object runs the function here
    assert repr(one) == "<SyncTask 'one'>"
    with pytest.raises(Exception, match="unknown task 'two'; registered tasks are: one"):
        app.registry.require("two")
    assert app.registry.require("one").func is one.definition.func
    app.close()
