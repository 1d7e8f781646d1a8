"""What every command shares: the app named by ``-A``, and running coroutines against it.

Plugin commands (``qtasks.cli`` entry points) receive the same object through
``pass_app_context``, so a third-party subcommand gets ``-A`` handling, reachability checks and
error messages for free.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import click

from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.discovery import redact_url
from qtasks.exceptions import QTasksError
from qtasks.interfaces.component import Component
from qtasks.memory import MemoryBroker
from qtasks_cli.errors import CliError, ExitCode
from qtasks_cli.loading import load_app

__all__ = ["AppContext", "configure_logging", "pass_app_context"]

T = TypeVar("T")

LOG_LEVELS = ("debug", "info", "warning", "error")


class AppContext:
    """The ``-A`` app, loaded on first use, and a runner for async work against it."""

    def __init__(self, spec: str | None, *, connect_timeout: float = 10.0) -> None:
        self.spec = spec
        self.connect_timeout = connect_timeout
        self._app: AsyncQueueTasks | None = None

    @property
    def app(self) -> AsyncQueueTasks:
        """The async app (the sync app's ``aio`` when ``-A`` names a sync app)."""
        if self._app is None:
            if not self.spec:
                raise CliError(
                    "no app given: pass -A module:app (or set QTASKS_APP=module:app)",
                    ExitCode.USAGE,
                )
            self._app = load_app(self.spec)
        return self._app

    @property
    def in_memory(self) -> bool:
        """Whether the broker lives in this process only (nothing else can see its queues)."""
        return isinstance(self.app.broker, MemoryBroker)

    def warn_in_memory(self, what: str) -> None:
        """Tell the user that ``what`` cannot reach any worker, once, on stderr."""
        if self.in_memory:
            click.echo(
                f"warning: app '{self.app.name}' uses the in-memory broker, so {what} "
                "(give the app a shared broker such as redis://...)",
                err=True,
            )

    async def connect(self) -> None:
        """Start the app's components one by one, naming any that cannot be reached."""
        app = self.app
        parts: list[tuple[str, Component]] = [
            ("global config", app.global_config),
            ("storage", app.storage),
            ("broker", app.broker),
        ]
        for kind, component in parts:
            try:
                with anyio.fail_after(self.connect_timeout):
                    await component.start()
            except TimeoutError as exc:
                raise CliError(
                    f"cannot reach the {kind} {_where(component)}: no answer within "
                    f"{self.connect_timeout:g} s",
                    ExitCode.UNREACHABLE,
                ) from exc
            except Exception as exc:
                raise CliError(
                    f"cannot reach the {kind} {_where(component)}: {type(exc).__name__}: {exc}",
                    ExitCode.UNREACHABLE,
                ) from exc
        await app.start()

    def run(self, func: Callable[[AsyncQueueTasks], Awaitable[T]], *, connect: bool = True) -> T:
        """Run ``func(app)`` on a new event loop; components are started first, stopped after.

        QTasks errors become one-line ``CliError`` s; Ctrl-C ends quietly with code 130.
        """
        app = self.app

        async def main() -> T:
            try:
                if connect:
                    await self.connect()
                return await func(app)
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await app.stop()

        try:
            return anyio.run(main)
        except CliError:
            raise
        except QTasksError as exc:
            raise CliError(str(exc), ExitCode.FAILED) from exc
        except KeyboardInterrupt:
            raise click.exceptions.Exit(128 + signal.SIGINT) from None


def _where(component: Component) -> str:
    url = getattr(component, "url", None)
    name = type(component).__name__
    return f"at {redact_url(url)} ({name})" if isinstance(url, str) else f"({name})"


pass_app_context = click.make_pass_decorator(AppContext)


def configure_logging(level: str) -> None:
    """Log to stderr at ``level`` with timestamps, the way a worker's log should look."""
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
