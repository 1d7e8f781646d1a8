"""``qtasks -A module:app run``: a worker, with the app's timers or other services beside it."""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.exceptions import QTasksError
from qtasks.starters.default import DefaultStarter, Service
from qtasks_cli.context import LOG_LEVELS, AppContext, configure_logging, pass_app_context
from qtasks_cli.errors import CliError, ExitCode

__all__ = ["SERVICE_GROUP", "load_service", "run"]

#: Entry point group of services a worker can run beside it (``--service NAME``).
SERVICE_GROUP = "qtasks.services"
#: Which distribution brings a service, for the install hint.
_SERVICE_PACKAGES = {"timer": "qtasks-timer"}


@click.command()
@click.option(
    "-c", "--concurrency", type=click.IntRange(min=1), help="Tasks run at once [default: 10]."
)
@click.option(
    "-Q",
    "--queues",
    "queues",
    multiple=True,
    metavar="NAMES",
    help="Queues to consume, comma-separated or repeated [default: every queue of the app].",
)
@click.option("--prefetch", type=click.IntRange(min=0), help="Tasks held ready beyond concurrency.")
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    help="Seconds running tasks get to finish after the first SIGINT/SIGTERM [default: 30].",
)
@click.option(
    "-l",
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
)
@click.option("--timer", is_flag=True, help="Also run the app's timers (needs qtasks-timer).")
@click.option(
    "--service",
    "services",
    multiple=True,
    metavar="NAME",
    help=f"Also run the service NAME from the '{SERVICE_GROUP}' entry points (repeatable).",
)
@click.option(
    "--reload",
    is_flag=True,
    help="Development: restart the worker when a .py file under --reload-dir changes.",
)
@click.option(
    "--reload-dir",
    "reload_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory to watch with --reload (repeatable) [default: the current directory].",
)
@pass_app_context
def run(
    context: AppContext,
    *,
    concurrency: int | None,
    queues: tuple[str, ...],
    prefetch: int | None,
    shutdown_timeout: float | None,
    log_level: str,
    timer: bool,
    services: tuple[str, ...],
    reload: bool,
    reload_dirs: tuple[Path, ...],
) -> None:
    """Run a worker until SIGINT/SIGTERM.

    The first signal stops taking new tasks and lets running ones finish (up to
    --shutdown-timeout); a second one stops at once and hands unfinished tasks back to the
    broker. Exit code 0 after either.
    """
    names = [*services, *(["timer"] if timer else [])]
    if reload:
        from qtasks_cli.commands._reload import supervise  # noqa: PLC0415 - only for --reload

        child = ["-A", context.spec or "", "--connect-timeout", str(context.connect_timeout)]
        child += ["run", "--log-level", log_level]
        child += _flag("--concurrency", concurrency) + _flag("--prefetch", prefetch)
        child += _flag("--shutdown-timeout", shutdown_timeout)
        for value in queues:
            child += ["--queues", value]
        for name in names:
            child += ["--service", name]
        context.app  # noqa: B018 - fail here, once, if -A is wrong
        raise click.exceptions.Exit(supervise(child, list(reload_dirs) or [Path.cwd()]))
    app = context.app
    for name in dict.fromkeys(names):
        _add_service(app, name, load_service(name))
    queue_list = [q.strip() for value in queues for q in value.split(",") if q.strip()] or None
    options: dict[str, Any] = {"prefetch": prefetch, "shutdown_timeout": shutdown_timeout}
    context.run(
        functools.partial(
            _serve, concurrency=concurrency, queues=queue_list, options=options, level=log_level
        ),
        needs=("broker", "storage", "global config"),
    )


async def _serve(
    app: AsyncQueueTasks,
    *,
    concurrency: int | None,
    queues: list[str] | None,
    options: dict[str, Any],
    level: str,
) -> None:
    configure_logging(level)  # after the servers answered: a failed start is one line only
    await app.run_forever(concurrency=concurrency, queues=queues, **options)


def _flag(name: str, value: object) -> list[str]:
    return [] if value is None else [name, str(value)]


def load_service(name: str) -> Service:
    """The service registered as ``name`` in the ``qtasks.services`` entry point group."""
    found = {ep.name: ep for ep in entry_points(group=SERVICE_GROUP)}
    entry = found.get(name)
    if entry is None:
        package = _SERVICE_PACKAGES.get(name)
        hint = f"install it with: pip install {package}" if package else "check the name"
        known = ", ".join(sorted(found)) or "none"
        raise CliError(
            f"no service named '{name}' is installed ({hint}; installed services: {known})",
            ExitCode.USAGE,
        )
    try:
        service = entry.load()
    except Exception as exc:
        raise CliError(
            f"loading the service '{name}' ({entry.value}) failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(service):
        raise CliError(f"the service '{name}' ({entry.value}) is not callable", ExitCode.USAGE)
    result: Service = service
    return result


def _add_service(app: AsyncQueueTasks, name: str, service: Service) -> None:
    starter = app.starter
    if not isinstance(starter, DefaultStarter):
        raise CliError(
            f"the app's starter ({type(starter).__name__}) cannot run extra services, so "
            f"'{name}' cannot run in this worker; run it on its own or use DefaultStarter",
            ExitCode.USAGE,
        )
    check = getattr(service, "check", None)
    if callable(check):  # a service may vet the app before the worker starts
        try:
            check(app)
        except QTasksError as exc:
            raise CliError(f"--service {name}: {exc}", ExitCode.USAGE) from exc
    if service not in starter.services:
        starter.add_service(service)
