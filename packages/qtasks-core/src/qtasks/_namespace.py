"""Finding the names visible where a task was defined, for string annotations."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["caller_namespace"]


def caller_namespace() -> dict[str, Any] | None:
    """A snapshot of the local names of the nearest caller outside QTasks.

    With ``from __future__ import annotations`` every annotation is a string, and one naming a
    class or provider defined inside a function (a test, a factory) can only be resolved with
    that function's locals. ``None`` at module level, where the function's globals suffice.
    """
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != "qtasks" and not module.startswith("qtasks."):
            break
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None or frame.f_locals is frame.f_globals:
        return None
    return dict(frame.f_locals)
