"""``Call``: one set of arguments for ``add_tasks``, when positional ones are not enough."""

from __future__ import annotations

from typing import Any

__all__ = ["Call"]


class Call:
    """Arguments for one task in a bulk ``add_tasks``: ``Call(1, 2, flag=True)``."""

    __slots__ = ("args", "kwargs")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"Call({', '.join(parts)})"
