"""``add``, ``status`` and ``tasks``: queueing a task, reading a record, listing definitions."""

from __future__ import annotations

import json
from typing import Any

import anyio
import click

from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.exceptions import TaskTimeoutError, UnknownTaskError
from qtasks.task import Task, TaskStatus
from qtasks_cli.commands._task_args import TaskArgumentsCommand
from qtasks_cli.context import AppContext, pass_app_context
from qtasks_cli.errors import CliError, ExitCode
from qtasks_cli.output import echo_json, format_time, progress, record_data, render_table

__all__ = ["add", "parse_argument", "status", "tasks"]


def parse_argument(text: str) -> Any:
    """JSON when it parses as JSON (``2`` is an int, ``'"2"'`` a string), the text otherwise."""
    try:
        return json.loads(text)
    except ValueError:
        return text


@click.command(cls=TaskArgumentsCommand, context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--kwargs", "kwargs_json", metavar="JSON", help='Keyword arguments: \'{"to": "x"}\'.')
@click.option("--priority", type=int, help="Lower runs first [default: the task's].")
@click.option("--queue", help="Queue to use [default: the task's].")
@click.option("--delay", type=click.FloatRange(min=0), help="Seconds before it may run.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Wait up to SECONDS for the task to finish and print its result.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the task record as JSON.")
@pass_app_context
def add(
    context: AppContext,
    *,
    name: str,
    args: tuple[str, ...],
    kwargs_json: str | None,
    priority: int | None,
    queue: str | None,
    delay: float | None,
    wait: float | None,
    as_json: bool,
) -> None:
    """Queue task NAME with ARGS and print its uuid (or, with --wait, its result).

    Each ARG is read as JSON when it parses as JSON and as a plain string otherwise: 2 is a
    number, '"2"' the string "2", abc the string "abc". Negative numbers are arguments; put
    the options first and -- before any other argument that starts with a dash. Exit code 1
    when the task failed or did not finish within --wait.
    """
    app = context.app
    if name not in app.registry:
        raise CliError(str(UnknownTaskError(name, app.registry.names())), ExitCode.USAGE)
    kwargs: dict[str, Any] = {}
    if kwargs_json is not None:
        try:
            kwargs = json.loads(kwargs_json)
        except ValueError as exc:
            raise CliError(f"--kwargs is not valid JSON: {exc}", ExitCode.USAGE) from None
        if not isinstance(kwargs, dict):
            raise CliError('--kwargs must be a JSON object, like \'{"to": "x"}\'', ExitCode.USAGE)
    values = [parse_argument(a) for a in args]
    context.warn_in_memory("this task lives only inside this command and no worker will see it")

    async def queue_it(app: AsyncQueueTasks) -> Task:
        task = await app.add_task(
            name, *values, priority=priority, queue=queue, delay=delay, task_kwargs=kwargs
        )
        if wait is None:
            return task
        return await _wait(app, task, wait, show=not as_json)

    record = context.run(queue_it, needs=("broker", "storage"))
    if as_json:
        echo_json(record_data(record))
    elif wait is None:
        click.echo(record.uuid)
    elif record.status is TaskStatus.SUCCESS:
        click.echo(json.dumps(record.returning, default=str, ensure_ascii=False))
    if wait is not None and record.status is not TaskStatus.SUCCESS:
        detail = record.error or record.cancel_reason or ""
        raise CliError(
            f"task '{name}' ({record.uuid}) ended with status {record.status}"
            + (f": {detail}" if detail else ""),
            ExitCode.FAILED,
        )


async def _wait(app: AsyncQueueTasks, task: Task, timeout: float, *, show: bool) -> Task:
    steps = max(1, round(timeout * 4))
    with progress(f"waiting for {task.task_name}", steps, enabled=show) as bar:
        async with anyio.create_task_group() as group:

            async def tick() -> None:
                for _ in range(steps):
                    await anyio.sleep(timeout / steps)
                    bar.update(1)

            group.start_soon(tick)
            try:
                final: Task | TaskTimeoutError = await app.wait_result(task.uuid, timeout)
            except TaskTimeoutError as exc:
                final = exc
            group.cancel_scope.cancel()
    if isinstance(final, TaskTimeoutError):
        raise CliError(str(final), ExitCode.FAILED)
    return final


@click.command()
@click.argument("uuid")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON.")
@pass_app_context
def status(context: AppContext, *, uuid: str, as_json: bool) -> None:
    """Show the stored record of task UUID (exit code 1 if there is none)."""
    context.warn_in_memory("only tasks added by this command could be found")

    async def fetch(app: AsyncQueueTasks) -> Task | None:
        return await app.get(uuid)

    record = context.run(fetch, needs=("storage",))
    if record is None:
        raise CliError(
            f"no task with uuid {uuid} in app '{context.app.name}' (unknown, or its record "
            "expired)",
            ExitCode.FAILED,
        )
    if as_json:
        echo_json(record_data(record))
        return
    rows: list[tuple[str, Any]] = [
        ("uuid", record.uuid),
        ("task", record.task_name),
        ("status", record.status.value),
        ("queue", record.queue),
        ("priority", record.priority),
        ("args", json.dumps(list(record.args), default=str)),
        ("kwargs", json.dumps(record.kwargs, default=str)),
        ("created", format_time(record.created_at)),
        ("started", format_time(record.started_at)),
        ("finished", format_time(record.finished_at)),
        ("eta", format_time(record.eta)),
        ("retries", record.retries),
    ]
    if record.status is TaskStatus.SUCCESS:
        rows.append(("result", json.dumps(record.returning, default=str)))
    if record.error:
        rows.append(("error", record.error))
    if record.cancel_reason:
        rows.append(("cancelled", record.cancel_reason))
    if record.headers:
        rows.append(("headers", json.dumps(record.headers, default=str)))
    if record.parent_uuid:
        rows.append(("parent", record.parent_uuid))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {'-' if value is None else value}")
    if record.traceback:
        click.echo(record.traceback.rstrip())


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print every option as JSON.")
@pass_app_context
def tasks(context: AppContext, *, as_json: bool) -> None:
    """List the app's registered tasks with their options."""
    definitions = list(context.app.registry)
    definitions.sort(key=lambda d: d.name)
    if as_json:
        echo_json(
            [
                {
                    "name": d.name,
                    "queue": d.queue,
                    "priority": d.priority,
                    "retry": d.retry,
                    "retry_on_exc": [e.__name__ for e in d.retry_on_exc or ()],
                    "retry_backoff": d.retry_backoff,
                    "retry_backoff_max": d.retry_backoff_max,
                    "max_time": d.max_time,
                    "kind": d.kind.value,
                    "echo": d.echo,
                    "tags": list(d.tags),
                    "description": d.description,
                    "origin": d.origin,
                }
                for d in definitions
            ]
        )
        return
    if not definitions:
        click.echo(f"app '{context.app.name}' has no registered tasks")
        return
    rows = [
        (d.name, d.queue, d.priority, d.retry, d.max_time, d.kind.value, d.description)
        for d in definitions
    ]
    headers = ("NAME", "QUEUE", "PRIORITY", "RETRY", "MAX_TIME", "KIND", "DESCRIPTION")
    click.echo(render_table(headers, rows))
