"""The ``qtasks`` command group, with subcommands from other packages loaded on demand.

A package adds ``qtasks <name>`` by registering, in the ``qtasks.cli`` entry point group, a
click command or a function returning one::

    [project.entry-points."qtasks.cli"]
    timer = "qtasks_timer.cli:timer_command"

It is imported only when that subcommand (or ``--help``) is used, so a broken plugin never
breaks the other commands. Inside it, ``pass_app_context`` hands over the ``-A`` app.
"""

from __future__ import annotations

import functools
import logging
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import click

from qtasks_cli.__about__ import __version__
from qtasks_cli.commands import add, inspect, purge, queues, requeue_dead, run, status, tasks
from qtasks_cli.context import AppContext, configure_logging
from qtasks_cli.errors import CliError, ExitCode

__all__ = ["PLUGIN_GROUP", "cli", "main"]

PLUGIN_GROUP = "qtasks.cli"

_BUILTIN: dict[str, click.Command] = {
    c.name or "": c for c in (run, add, status, tasks, queues, purge, requeue_dead, inspect)
}


@functools.cache
def _plugins() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name not in _BUILTIN}


class _QTasksGroup(click.Group):
    """Built-in commands first, then the ``qtasks.cli`` plugins, loaded when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*_BUILTIN, *sorted(_plugins())]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _BUILTIN:
            return _BUILTIN[cmd_name]
        entry = _plugins().get(cmd_name)
        return None if entry is None else _load_plugin(cmd_name, entry)


def _load_plugin(name: str, entry: EntryPoint) -> click.Command:
    try:
        loaded: Any = entry.load()
        command = loaded if isinstance(loaded, click.Command) else loaded()
        if not isinstance(command, click.Command):
            raise TypeError(f"it gave a {type(command).__name__}, not a click command")
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"

        @click.command(name, help=f"(could not be loaded: {reason})")
        def broken() -> None:
            raise CliError(
                f"the '{name}' command ({entry.value}) could not be loaded: {reason}",
                ExitCode.FAILED,
            )

        return broken
    return command


_HELP = """QTasks: run workers and look after the queues of an app.

\b
qtasks -A myproject.tasks:app run --concurrency 20
qtasks -A myproject.tasks:app add send_email '"ann@example.org"' --wait 10
qtasks -A myproject.tasks:app queues
"""


@click.group(cls=_QTasksGroup, help=_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-A",
    "--app",
    "spec",
    envvar="QTASKS_APP",
    metavar="MODULE:APP",
    help="The app: module:attribute (a QueueTasks app or a factory returning one). "
    "Also read from QTASKS_APP.",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the broker, storage and global config to answer.",
)
@click.option("-v", "--verbose", count=True, help="Show library logs (-vv: debug).")
@click.version_option(__version__, prog_name="qtasks")
@click.pass_context
def cli(ctx: click.Context, spec: str | None, connect_timeout: float, verbose: int) -> None:
    """Load nothing yet: the app is imported by the first command that needs it."""
    if not verbose:
        # Library warnings (a reconnect attempt, say) would repeat what the one-line error
        # says; ``run`` sets up real logging of its own, and -v shows them everywhere.
        logging.getLogger().addHandler(logging.NullHandler())
    else:
        configure_logging("debug" if verbose > 1 else "info")
    ctx.obj = AppContext(spec, connect_timeout=connect_timeout)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``qtasks`` script and of ``python -m qtasks_cli``."""
    cli.main(args=argv, prog_name="qtasks")
