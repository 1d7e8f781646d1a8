"""``queues``, ``purge``, ``requeue-dead`` and ``inspect``: looking at and tidying a running app."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.interfaces.broker import QueueStats
from qtasks_cli.context import AppContext, pass_app_context
from qtasks_cli.errors import CliError, ExitCode
from qtasks_cli.output import echo_json, format_age, progress, render_table

__all__ = ["inspect", "purge", "queues", "requeue_dead"]

T = TypeVar("T")

#: Dead letters moved per broker call by requeue-dead (the progress bar advances per batch).
REQUEUE_BATCH = 500

_queue_option = click.option(
    "-Q",
    "--queue",
    "queue_names",
    multiple=True,
    metavar="NAME",
    help="Only this queue (repeatable) [default: every queue of the app].",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _selected(app: AsyncQueueTasks, names: tuple[str, ...]) -> list[str]:
    return [n.strip() for v in names for n in v.split(",") if n.strip()] or app.queues


async def _unsupported(what: str, app: AsyncQueueTasks, call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except NotImplementedError:
        raise CliError(
            f"the broker of app '{app.name}' ({type(app.broker).__name__}) cannot {what}",
            ExitCode.FAILED,
        ) from None


@click.command()
@_queue_option
@_json_option
@pass_app_context
def queues(context: AppContext, *, queue_names: tuple[str, ...], as_json: bool) -> None:
    """Depth of each queue: ready per priority, delayed, in flight and dead-lettered."""
    context.warn_in_memory("these counts cover only this command's own process")
    names = _selected(context.app, queue_names)

    async def read(app: AsyncQueueTasks) -> list[QueueStats]:
        async def stats() -> list[QueueStats]:
            return await app.broker.stats(names)

        return await _unsupported("report queue depths", app, stats)

    stats = context.run(read, needs=("broker",))
    if as_json:
        echo_json(
            [
                {
                    "queue": s.queue,
                    "ready": s.total_ready,
                    "ready_by_priority": {str(p): n for p, n in sorted(s.ready.items())},
                    "delayed": s.delayed,
                    "in_flight": s.in_flight,
                    "dead": s.dead,
                }
                for s in stats
            ]
        )
        return
    rows = [
        (
            s.queue,
            s.total_ready,
            " ".join(f"{p}:{n}" for p, n in sorted(s.ready.items()) if n) or None,
            "?" if s.delayed is None else s.delayed,
            "?" if s.in_flight is None else s.in_flight,
            s.dead,
        )
        for s in stats
    ]
    click.echo(
        render_table(("QUEUE", "READY", "BY_PRIORITY", "DELAYED", "IN_FLIGHT", "DEAD"), rows)
    )


@click.command()
@_queue_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@_json_option
@pass_app_context
def purge(context: AppContext, *, queue_names: tuple[str, ...], yes: bool, as_json: bool) -> None:
    """Drop every waiting (ready and delayed) task; running tasks and dead letters stay."""
    names = _selected(context.app, queue_names)
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("purge drops tasks for good; pass --yes to confirm", ExitCode.USAGE)
        click.confirm(
            f"Drop every waiting task in {', '.join(names)} of app '{context.app.name}'?",
            abort=True,
        )

    async def drop(app: AsyncQueueTasks) -> dict[str, int]:
        dropped: dict[str, int] = {}
        with progress("purging", len(names), enabled=not as_json and len(names) > 1) as bar:
            for name in names:

                async def purge_one(name: str = name) -> int:
                    return await app.broker.purge([name])

                dropped[name] = await _unsupported("purge", app, purge_one)
                bar.update(1)
        return dropped

    dropped = context.run(drop, needs=("broker",))
    if as_json:
        echo_json({"purged": dropped, "total": sum(dropped.values())})
        return
    for name, count in dropped.items():
        click.echo(f"{name}: purged {count} task(s)")


@click.command("requeue-dead")
@click.option("-Q", "--queue", "queue_name", metavar="NAME", help="Only this queue.")
@click.option("--limit", type=click.IntRange(min=1), help="Move at most this many.")
@_json_option
@pass_app_context
def requeue_dead(
    context: AppContext, *, queue_name: str | None, limit: int | None, as_json: bool
) -> None:
    """Send dead-lettered tasks (oldest first) back to their queues."""

    async def move(app: AsyncQueueTasks) -> int:
        names = [queue_name] if queue_name else app.queues
        try:
            total = sum(s.dead for s in await app.broker.stats(names))
        except NotImplementedError:
            total = 0
        if limit is not None:
            total = min(total, limit)
        moved = 0
        with progress("requeueing", total, enabled=not as_json) as bar:
            while limit is None or moved < limit:
                batch = REQUEUE_BATCH if limit is None else min(REQUEUE_BATCH, limit - moved)

                async def requeue(batch: int = batch) -> int:
                    return await app.requeue_dead(queue_name, batch)

                count = await _unsupported("requeue dead letters", app, requeue)
                moved += count
                bar.update(count)
                if count < batch:
                    break
        return moved

    moved = context.run(move, needs=("broker",))
    if as_json:
        echo_json({"requeued": moved, "queue": queue_name})
    else:
        click.echo(f"requeued {moved} dead-lettered task(s)")


@click.command()
@_json_option
@pass_app_context
def inspect(context: AppContext, *, as_json: bool) -> None:
    """Live workers (from their heartbeats) and what they are running; lease holders."""
    context.warn_in_memory("only workers inside this command could be seen")

    async def read(app: AsyncQueueTasks) -> tuple[dict[str, Any], dict[str, Any]]:
        workers = await app.global_config.items("worker:")
        leases = await app.global_config.items("lease:")
        return workers, leases

    workers, leases = context.run(read, needs=("global config",))
    described = sorted(
        (w for w in workers.values() if isinstance(w, dict)), key=lambda w: str(w.get("id"))
    )
    holders = {key.removeprefix("lease:"): value for key, value in sorted(leases.items())}
    if as_json:
        echo_json({"workers": described, "leases": holders})
        return
    if not described:
        click.echo(f"no live workers for app '{context.app.name}'")
    else:
        now = time.time()
        rows = [
            (
                w.get("id"),
                w.get("pid"),
                ",".join(w.get("queues") or []),
                w.get("concurrency"),
                len(w.get("running") or []),
                w.get("processed"),
                format_age(_number(w.get("started_at")), now),
                format_age(_number(w.get("seen_at")), now),
            )
            for w in described
        ]
        headers = ("WORKER", "PID", "QUEUES", "CONC", "RUNNING", "DONE", "UP", "SEEN")
        click.echo(render_table(headers, rows))
        for w in described:
            for uuid in w.get("running") or []:
                click.echo(f"  {w.get('id')} is running {uuid}")
    if holders:
        click.echo("")
        click.echo(render_table(("LEASE", "HOLDER"), list(holders.items())))


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None
