"""Exception groups stop at the API boundary: users catch the error they raised, not a group.

anyio task groups wrap every failure in an ``ExceptionGroup``, even a single one raised in the
body of ``async with app.running():``. Where the group holds exactly one error, the public
methods re-raise that error itself, so ``except KeyError`` keeps working around a worker.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

if sys.version_info < (3, 11):  # pragma: no cover - the backport anyio brings on 3.10
    from exceptiongroup import BaseExceptionGroup

__all__ = ["single_error"]


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    if len(group.exceptions) != 1:
        return None
    inner = group.exceptions[0]
    if isinstance(inner, BaseExceptionGroup):
        return _sole(inner)
    return inner


@contextmanager
def single_error() -> Iterator[None]:
    """Re-raise the only exception of an exception group; leave real groups alone."""
    try:
        yield
    except BaseExceptionGroup as group:
        sole = _sole(group)
        if sole is None:
            raise
        raise sole from None
