"""How commands print: JSON for scripts, aligned tables for people, progress on a terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import click

from qtasks.task import Task

__all__ = [
    "echo_json",
    "format_age",
    "format_time",
    "progress",
    "record_data",
    "render_table",
]

_TIMES = ("created_at", "updated_at", "started_at", "finished_at", "eta")


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (anything unknown as its ``str``)."""
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; ``None`` shows as ``-``."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_time(value: datetime | float | None) -> str | None:
    """An aware time as ISO 8601 in UTC to the second, or ``None``."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromtimestamp(value, timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def format_age(epoch: float | None, now: float) -> str | None:
    """``3s``, ``4m10s``, ``2h05m``, ``3d4h``: how long ago ``epoch`` was."""
    if epoch is None:
        return None
    seconds = int(max(0.0, now - epoch))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


def record_data(task: Task) -> dict[str, Any]:
    """A task record as JSON-ready data, with times as ISO 8601 strings."""
    data = task.to_dict()
    for key in _TIMES:
        data[key] = format_time(data[key])
    for attempt in data["attempts"]:
        attempt["started_at"] = format_time(attempt["started_at"])
        attempt["finished_at"] = format_time(attempt["finished_at"])
    return data


class _Progress:
    """The part of a progress bar the commands use; a no-op away from a terminal."""

    def __init__(self, bar: Any | None) -> None:
        self._bar = bar

    def update(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(done)


@contextmanager
def progress(label: str, total: int, *, enabled: bool = True) -> Iterator[_Progress]:
    """A progress bar on stderr while ``total`` steps are done, only when stderr is a terminal."""
    if not enabled or total <= 0 or not sys.stderr.isatty():
        yield _Progress(None)
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield _Progress(bar)
