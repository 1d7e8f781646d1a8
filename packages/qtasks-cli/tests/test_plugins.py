"""Subcommands and services from other packages, through entry points."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint

import pytest
from click.testing import Result

from qtasks_cli import ExitCode, group
from qtasks_cli.commands import worker

from .conftest import WriteApp

Invoke = Callable[..., Result]

PLUGIN = """
import click
from qtasks_cli import AppContext, pass_app_context

@click.command("hello")
@pass_app_context
def hello(context: AppContext) -> None:
    '''Say hello to the app.'''
    click.echo(f"hello {{context.app.name}}")

def make():
    return hello

def broken():
    raise RuntimeError("plugin exploded")

def not_a_command():
    return 42
"""


@pytest.fixture
def plugins(write_app: WriteApp, monkeypatch: pytest.MonkeyPatch) -> str:
    module = write_app(PLUGIN)
    plugin_group = group.PLUGIN_GROUP
    found = {
        "hello": EntryPoint("hello", f"{module}:hello", plugin_group),
        "made": EntryPoint("made", f"{module}:make", plugin_group),
        "broken": EntryPoint("broken", f"{module}:broken", plugin_group),
        "odd": EntryPoint("odd", f"{module}:not_a_command", plugin_group),
        "gone": EntryPoint("gone", "qtasks_no_such_plugin:cmd", plugin_group),
    }
    monkeypatch.setattr(group, "_plugins", lambda: found)
    return module


def test_plugins_are_listed_and_run(plugins: str, write_app: WriteApp, invoke: Invoke) -> None:
    listing = invoke("--help").stdout
    for name in ("hello", "made", "broken", "gone", "run", "inspect"):
        assert f"  {name} " in listing
    app = write_app()
    assert invoke("-A", f"{app}:app", "hello").stdout == f"hello {app}\n"
    assert invoke("-A", f"{app}:app", "made").stdout == f"hello {app}\n"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken", "RuntimeError: plugin exploded"),
        ("odd", "TypeError: it gave a int, not a click command"),
        ("gone", "ModuleNotFoundError: No module named 'qtasks_no_such_plugin'"),
    ],
)
def test_a_broken_plugin_fails_alone(plugins: str, invoke: Invoke, name: str, reason: str) -> None:
    result = invoke(name)
    assert result.exit_code == ExitCode.FAILED
    assert f"the '{name}' command" in result.stderr and reason in result.stderr
    assert invoke("--help").exit_code == 0


def test_unknown_services_say_what_is_installed(
    write_app: WriteApp, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = write_app()
    result = invoke("-A", f"{app}:app", "run", "--service", "nosuch")
    assert result.exit_code == ExitCode.USAGE
    assert "no service named 'nosuch' is installed (check the name; installed services:" in (
        result.stderr
    )
    monkeypatch.setattr(worker, "entry_points", lambda group: [])
    timer = invoke("-A", f"{app}:app", "run", "--timer")
    assert timer.exit_code == ExitCode.USAGE
    assert "no service named 'timer' is installed (install it with: pip install qtasks-timer" in (
        timer.stderr
    )


def test_services_need_a_starter_that_runs_them(
    write_app: WriteApp, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = write_app(
        """
        from qtasks.asyncio import QueueTasks
        from qtasks.interfaces.starter import Starter

        class Bare(Starter):
            async def serve(self, app, worker, *, task_status=None):
                raise AssertionError("not reached")

        app = QueueTasks("bare", starter=Bare())

        async def extra(app):
            return None
        """
    )
    entry = EntryPoint("extra", f"{app}:extra", worker.SERVICE_GROUP)
    monkeypatch.setattr(worker, "entry_points", lambda group: [entry])
    result = invoke("-A", f"{app}:app", "run", "--service", "extra")
    assert result.exit_code == ExitCode.USAGE
    assert "the app's starter (Bare) cannot run extra services" in result.stderr


def test_a_service_may_refuse_the_app_before_the_worker_starts(
    write_app: WriteApp, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = write_app(
        """
        from qtasks.asyncio import QueueTasks
        from qtasks.exceptions import ConfigurationError

        app = QueueTasks("picky")

        class Picky:
            def check(self, app):
                raise ConfigurationError("needs a cache configured")

            async def __call__(self, app):
                raise AssertionError("never started")

        picky = Picky()
        """
    )
    entry = EntryPoint("picky", f"{app}:picky", worker.SERVICE_GROUP)
    monkeypatch.setattr(worker, "entry_points", lambda group: [entry])
    result = invoke("-A", f"{app}:app", "run", "--service", "picky")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.strip() == "Error: --service picky: needs a cache configured"
