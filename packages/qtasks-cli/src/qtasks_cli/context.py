"""What every command shares: the app named by ``-A``, and running coroutines against it.

Plugin commands (``qtasks.cli`` entry points) receive the same object through
``pass_app_context``, so a third-party subcommand gets ``-A`` handling, reachability checks and
error messages for free.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, TypeVar

import anyio
import click

from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.discovery import redact_url
from qtasks.exceptions import ConfigurationError, QTasksError
from qtasks.interfaces.component import Component
from qtasks.memory import MemoryBroker
from qtasks_cli.errors import CliError, ExitCode
from qtasks_cli.loading import load_app

__all__ = ["AppContext", "ComponentKind", "configure_logging", "pass_app_context"]

T = TypeVar("T")

#: The components a command can say it needs, as they are named in error messages.
ComponentKind = Literal["broker", "storage", "global config"]

_NO_SUCH_UUID = "00000000-0000-0000-0000-000000000000"

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

    async def connect(self, needs: Sequence[ComponentKind] = ()) -> None:
        """Start the components and make one cheap read on each, naming any that fails.

        ``needs``: the components the command works with, checked first and in that order,
        so that an outage is reported as the part the command actually uses (``add`` names
        the broker, ``status`` the storage); the others are checked after them, as the app
        starts them all. Backends may connect lazily, so starting alone proves nothing; the
        reads do.
        """
        app = self.app
        probes: dict[ComponentKind, tuple[Component, Callable[[], Awaitable[object]]]] = {
            "global config": (app.global_config, lambda: app.global_config.get("cli:probe")),
            "storage": (app.storage, lambda: app.storage.get(_NO_SUCH_UUID)),
            "broker": (app.broker, lambda: app.broker.stats([app.default_queue])),
        }
        for kind in dict.fromkeys([*needs, *probes]):
            component, probe = probes[kind]
            try:
                with anyio.fail_after(self.connect_timeout):
                    await component.start()
                    # A backend with nothing cheap to ask is told apart by its first real call.
                    with contextlib.suppress(NotImplementedError):
                        await probe()
            except TimeoutError as exc:
                raise CliError(
                    f"cannot reach the {kind} {_where(component)}: no answer within "
                    f"{self.connect_timeout:g} s",
                    ExitCode.UNREACHABLE,
                ) from exc
            except Exception as exc:
                raise unreachable(kind, component, exc) from exc
        await app.start()

    def run(
        self,
        func: Callable[[AsyncQueueTasks], Awaitable[T]],
        *,
        connect: bool = True,
        needs: Sequence[ComponentKind] = (),
    ) -> T:
        """Run ``func(app)`` on a new event loop; components are started first, stopped after.

        ``needs`` orders the reachability check (see ``connect``). QTasks errors become
        one-line ``CliError`` s; Ctrl-C ends quietly with code 130.
        """
        app = self.app

        async def main() -> T:
            try:
                if connect:
                    await self.connect(needs)
                return await func(app)
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await app.stop()

        try:
            try:
                return anyio.run(main)
            except BaseException as exc:
                raise _single(exc) from None
        except CliError:
            raise
        except ConnectionError as exc:  # BrokerConnectionError, StorageConnectionError, ...
            raise CliError(str(exc) or repr(exc), ExitCode.UNREACHABLE) from exc
        except ConfigurationError as exc:
            raise CliError(str(exc), ExitCode.USAGE) from exc
        except QTasksError as exc:
            raise CliError(str(exc), ExitCode.FAILED) from exc
        except KeyboardInterrupt:
            raise click.exceptions.Exit(128 + signal.SIGINT) from None


def _single(exc: BaseException) -> BaseException:
    """The one error inside nested exception groups, so it gets its one-line message."""
    while isinstance(getattr(exc, "exceptions", None), tuple) and len(exc.exceptions) == 1:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def unreachable(kind: str, component: Component, exc: BaseException) -> CliError:
    """The one line for a component that failed to start or answer."""
    detail = str(exc)
    if "://" in detail:  # the backend's message already says where (without the password)
        return CliError(f"cannot reach the {kind}: {detail}", ExitCode.UNREACHABLE)
    message = f"cannot reach the {kind} {_where(component)}: {type(exc).__name__}: {detail}"
    return CliError(message, ExitCode.UNREACHABLE)


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
