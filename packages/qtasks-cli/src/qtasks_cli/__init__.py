"""The ``qtasks`` command line (click). ``python -m qtasks_cli`` runs it too.

For packages adding subcommands through the ``qtasks.cli`` entry point group, the helpers
here are the supported surface: ``pass_app_context`` gives a command the ``-A`` app as an
``AppContext`` (``context.app``, ``context.run(coroutine_function)``); ``CliError`` ends a
command with a one-line message and an ``ExitCode``; ``echo_json`` and ``render_table`` print.
"""

from qtasks_cli.__about__ import __version__
from qtasks_cli.context import AppContext, ComponentKind, configure_logging, pass_app_context
from qtasks_cli.errors import CliError, ExitCode
from qtasks_cli.group import cli, main
from qtasks_cli.loading import load_app
from qtasks_cli.output import echo_json, format_age, format_time, progress, render_table

__all__ = [
    "AppContext",
    "CliError",
    "ComponentKind",
    "ExitCode",
    "__version__",
    "cli",
    "configure_logging",
    "echo_json",
    "format_age",
    "format_time",
    "load_app",
    "main",
    "pass_app_context",
    "progress",
    "render_table",
]
