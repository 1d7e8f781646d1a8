"""SIGINT and SIGTERM for a serving worker: the first drains it, a second stops it at once."""

from __future__ import annotations

import logging
import signal

import anyio
from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus as StartedStatus

from qtasks.interfaces.worker import Worker

__all__ = ["log_signal", "watch_signals"]

logger = logging.getLogger("qtasks")


async def watch_signals(
    worker: Worker, *, task_status: StartedStatus[None] = TASK_STATUS_IGNORED
) -> None:
    """Stop ``worker`` on signals, from the event loop's own handler (main thread only)."""
    try:
        receiver = anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM)
        with receiver as signals:
            task_status.started()
            received = 0
            async for signum in signals:
                received += 1
                log_signal(signum, received)
                worker.stop(graceful=received == 1)
    except (NotImplementedError, RuntimeError, ValueError) as exc:
        # Not the main thread, or a platform without loop signal handlers.
        logger.debug("not handling signals here: %r", exc)
        task_status.started()


def log_signal(signum: int, received: int) -> None:
    """Say what the signal does, the same way whichever app caught it."""
    name = signal.Signals(signum).name
    if received == 1:
        logger.warning("%s received: finishing running tasks; send it again to stop at once", name)
    else:
        logger.warning(
            "%s received again: stopping now, unfinished tasks go back to the queue", name
        )
