"""-A module:app: every way it can go wrong names the part that failed, exit code 2."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result

from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks_cli import CliError, ExitCode, load_app

from .conftest import BASIC, WriteApp

Invoke = Callable[..., Result]


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_sync_and_async_apps_and_dotted_attributes(write_app: WriteApp) -> None:
    sync_module = write_app()
    app = load_app(f"{sync_module}:app")
    assert isinstance(app, AsyncQueueTasks) and app.name == sync_module
    assert load_app(sync_module) is app  # the attribute defaults to "app"
    nested = write_app(
        """
        from types import SimpleNamespace
        from qtasks.asyncio import QueueTasks
        services = SimpleNamespace(queue=QueueTasks("nested"))
        """
    )
    assert load_app(f"{nested}:services.queue").name == "nested"


def test_factories_are_called(write_app: WriteApp, invoke: Invoke) -> None:
    module = write_app(
        """
        from qtasks.asyncio import QueueTasks

        def create_app():
            app = QueueTasks("made")
            app.task(name="hello")(lambda: "hi")
            return app
        """
    )
    result = invoke("-A", f"{module}:create_app", "tasks")
    assert result.exit_code == 0, result.output
    assert "hello" in result.stdout


@pytest.mark.parametrize(
    ("source", "spec", "expected"),
    [
        (BASIC, "{m}:nope", "module '{m}' has no attribute 'nope'; apps found there: app"),
        (BASIC, "{m}:app.missing", "'app' has no attribute 'missing'"),
        (BASIC, "{m}:1bad", "'1bad' is not an attribute path"),
        (BASIC, "{m}:a:b", "-A expects module:attribute"),
        ("x = 5\n", "{m}:x", "'{m}:x' is a int, not a QueueTasks app or a factory"),
        (
            "def make():\n    raise RuntimeError('no config')\n",
            "{m}:make",
            "calling the factory '{m}:make' failed: RuntimeError: no config",
        ),
        (
            "def make():\n    return 42\n",
            "{m}:make",
            "the factory '{m}:make' returned a int, not a QueueTasks app",
        ),
        (
            "import qtasks_cli_no_such_dependency\n",
            "{m}:app",
            "importing '{m}' failed: ModuleNotFoundError: No module named "
            "'qtasks_cli_no_such_dependency' (",
        ),
        ("1 / 0\n", "{m}:app", "importing '{m}' failed: ZeroDivisionError: division by zero ("),
        ("def broken(:\n", "{m}:app", "importing '{m}' failed: SyntaxError: "),
    ],
)
def test_bad_app_specs(
    write_app: WriteApp, invoke: Invoke, source: str, spec: str, expected: str
) -> None:
    module = write_app(source.replace("{", "{{").replace("}", "}}").replace("{{name}}", "{name}"))
    result = invoke("-A", spec.format(m=module), "tasks")
    assert result.exit_code == ExitCode.USAGE
    assert expected.format(m=module) in one_error_line(result)


def test_a_task_is_not_an_app(write_app: WriteApp, invoke: Invoke) -> None:
    home = write_app()
    said = "is the task 'add', not a QueueTasks app"
    direct = invoke("-A", f"{home}:add", "tasks")
    assert direct.exit_code == ExitCode.USAGE
    assert one_error_line(direct) == (
        f"Error: '{home}:add' {said}: it belongs to app '{home}'; point -A at the app: "
        f"-A {home}:app"
    )
    # imported elsewhere, the task still leads to the module that holds its app
    elsewhere = write_app(f"from {home} import add\n")
    imported = invoke("-A", f"{elsewhere}:add", "tasks")
    assert f"point -A at the app: -A {home}:app" in one_error_line(imported)
    # the async app's tasks, and a sync app holding the async app that owns the task
    async_module = write_app(
        """
        from qtasks.asyncio import QueueTasks

        core = QueueTasks("core")

        @core.task
        async def ping() -> str:
            return "pong"
        """
    )
    assert f"it belongs to app 'core'; point -A at the app: -A {async_module}:core" in (
        one_error_line(invoke("-A", f"{async_module}:ping", "tasks"))
    )
    orphan = write_app(
        """
        from qtasks import QueueTasks

        other = QueueTasks("other")

        def make():
            return QueueTasks("hidden").task(name="lost")(lambda: 1)

        lost = make()
        """
    )
    line = one_error_line(invoke("-A", f"{orphan}:lost", "tasks"))
    assert line == (
        f"Error: '{orphan}:lost' is the task 'lost', not a QueueTasks app: point -A at the app "
        f"it belongs to, as module:attribute (no app in module '{orphan}' owns it; apps found "
        "there: other)"
    )


def test_the_error_points_at_the_users_line(write_app: WriteApp) -> None:
    module = write_app("x = 1\n\n\nraise ValueError('bad setting')\n")
    with pytest.raises(CliError) as info:
        load_app(f"{module}:app")
    assert f"{module}.py:4)" in info.value.format_message()


def test_a_missing_module(write_app: WriteApp, invoke: Invoke) -> None:
    write_app()
    result = invoke("-A", "no_such_pkg.tasks:app", "tasks")
    assert result.exit_code == ExitCode.USAGE
    assert "cannot import 'no_such_pkg.tasks': no module named 'no_such_pkg'" in one_error_line(
        result
    )


def test_no_app_at_all(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QTASKS_APP", raising=False)
    result = invoke("tasks")
    assert result.exit_code == ExitCode.USAGE
    assert "no app given: pass -A module:app" in one_error_line(result)


def test_the_app_from_the_environment(
    write_app: WriteApp, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QTASKS_APP", f"{write_app()}:app")
    result = invoke("tasks")
    assert result.exit_code == 0 and "add" in result.stdout
