"""``qtasks -A module:app timer``: list the app's schedules, or run its timers without a worker.

Registered in the ``qtasks.cli`` entry point group and loaded only by ``qtasks-cli``, so this
module imports click and ``qtasks_cli`` inside ``timer_command`` and nowhere else: the timer
package itself never needs them.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

import anyio

from qtasks.exceptions import ConfigurationError
from qtasks_timer.service import run_timers

if TYPE_CHECKING:
    import click

    from qtasks.asyncio import QueueTasks as AsyncQueueTasks
    from qtasks_timer.timer import AsyncTimer

__all__ = ["timer_command"]


def timer_command() -> click.Command:
    """Build the ``timer`` command group (called by ``qtasks`` when it is used)."""
    import click  # noqa: PLC0415 - see the module docstring

    from qtasks_cli import (  # noqa: PLC0415
        AppContext,
        CliError,
        ExitCode,
        configure_logging,
        echo_json,
        format_time,
        pass_app_context,
        render_table,
    )

    def chosen(context: AppContext, names: tuple[str, ...]) -> list[AsyncTimer]:
        try:
            timers = run_timers.check(context.app)
        except ConfigurationError as exc:
            raise CliError(str(exc), ExitCode.USAGE) from None
        if not names:
            return timers
        unknown = sorted(set(names) - {t.name for t in timers})
        if unknown:
            known = ", ".join(t.name for t in timers)
            raise CliError(f"no timer named {', '.join(unknown)} (timers: {known})", ExitCode.USAGE)
        return [t for t in timers if t.name in names]

    timer_option = click.option(
        "--timer", "names", multiple=True, metavar="NAME", help="Only this timer (repeatable)."
    )

    @click.group("timer")
    def timer() -> None:
        """The app's timers: list schedules, or run timers without a worker."""

    @timer.command("list")
    @timer_option
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @pass_app_context
    def list_schedules(context: AppContext, *, names: tuple[str, ...], as_json: bool) -> None:
        """Every schedule with its next and last tick, and which process fires it."""
        timers = chosen(context, names)

        async def describe(item: AsyncTimer) -> dict[str, Any]:
            schedules = [
                {
                    **s.schedule.as_dict(),
                    "next_tick": format_time(s.next_tick),
                    "last_tick": format_time(s.last_tick),
                    "last_uuid": s.last_uuid,
                    "fired_by": s.fired_by,
                }
                for s in await item.status()
            ]
            return {"timer": item.name, "leader": await item.lease_holder(), "schedules": schedules}

        async def read(app: AsyncQueueTasks) -> list[dict[str, Any]]:
            return [await describe(item) for item in timers]

        data = context.run(read, needs=("global config",))
        if as_json:
            echo_json(data)
            return
        for number, item in enumerate(data):
            if number:
                click.echo("")
            click.echo(f"timer {item['timer']}: fired by {item['leader'] or 'nobody right now'}")
            rows = [
                (
                    s["id"],
                    s["task"],
                    s["trigger"],
                    s["missed"],
                    s["next_tick"],
                    s["last_tick"],
                    s["last_uuid"],
                )
                for s in item["schedules"]
            ]
            headers = ("SCHEDULE", "TASK", "TRIGGER", "MISSED", "NEXT", "LAST", "LAST_TASK")
            click.echo(render_table(headers, rows) if rows else "  (no schedules)")

    @timer.command("run")
    @timer_option
    @click.option(
        "-l",
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
        default="info",
        show_default=True,
    )
    @pass_app_context
    def run_command(context: AppContext, *, names: tuple[str, ...], log_level: str) -> None:
        """Run the app's timers in this process, without a worker, until SIGINT/SIGTERM.

        Any number of these (and of workers started with --timer) may run: each tick is
        fired by one of them. On a signal the timer gives up its lease so another process
        takes over at once.
        """
        configure_logging(log_level)
        timers = chosen(context, names)
        context.warn_in_memory("the tasks it queues are seen only by this process")

        async def serve(app: AsyncQueueTasks) -> None:
            async with anyio.create_task_group() as group:
                for item in timers:
                    group.start_soon(item.run_forever)
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        break
                group.cancel_scope.cancel()

        context.run(serve, needs=("global config", "broker"))

    return timer
