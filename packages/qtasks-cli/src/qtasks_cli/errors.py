"""Exit codes and the one-line error every command ends with when something is wrong."""

from __future__ import annotations

import re
from enum import IntEnum
from typing import IO, Any

import click

from qtasks.discovery import redact_url

__all__ = ["CliError", "ExitCode", "scrub"]


class ExitCode(IntEnum):
    """What ``qtasks`` returns; scripts can tell a typo from an outage.

    ``OK`` 0; ``FAILED`` 1: the command ran and the outcome is a failure (the task failed,
    waiting timed out, an unknown uuid); ``USAGE`` 2: the command line or the app is wrong
    (bad ``-A``, unknown task name, bad JSON; click's own usage errors are 2 as well);
    ``UNREACHABLE`` 3: a server (broker, storage, global config) could not be reached.
    """

    OK = 0
    FAILED = 1
    USAGE = 2
    UNREACHABLE = 3


class CliError(click.ClickException):
    """Print ``Error: <message>`` on one line to stderr and exit with ``code``."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(scrub(" ".join(message.split())))
        self.exit_code = int(code)  # type: ignore[misc]  # click reads it per instance

    def show(self, file: IO[Any] | None = None) -> None:
        """One line, no usage banner."""
        click.echo(f"Error: {self.format_message()}", err=True, file=file)


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def scrub(text: str) -> str:
    """Replace the password of every URL in ``text`` (a server's own message may carry one)."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text)
