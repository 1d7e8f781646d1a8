"""The sync app's private event loop: a daemon thread reached through an anyio portal.

A daemon thread, so a script that never calls ``app.close()`` still exits when its main thread
ends (a non-daemon loop thread would keep ``python main.py`` alive forever); an ``atexit``
hook then stops the components cleanly while the interpreter can still run them.
"""

from __future__ import annotations

import signal
import threading

import anyio
from anyio.from_thread import BlockingPortal

__all__ = ["LoopThread"]


class LoopThread:
    """Starts an event loop in a daemon thread and exposes its portal until ``stop``."""

    def __init__(self, name: str) -> None:
        self._ready = threading.Event()
        self._portal: BlockingPortal | None = None
        self._failure: BaseException | None = None
        self.ident: int | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    @property
    def portal(self) -> BlockingPortal:
        """The portal into the loop; valid until ``stop``."""
        assert self._portal is not None
        return self._portal

    def _run(self) -> None:
        # SIGINT and SIGTERM belong to the main thread, where the sync app's handlers are. If
        # the kernel picked this thread (or a worker thread it starts, which inherit the mask),
        # a main thread blocked on a lock would never wake to run its handler.
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            anyio.run(self._main)
        except BaseException as exc:  # reported to the thread that started us
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        async with BlockingPortal() as portal:
            self._portal = portal
            self.ident = threading.get_ident()
            self._ready.set()
            await portal.sleep_until_stopped()

    def stop(self) -> None:
        """Stop the loop once the tasks it runs have finished, and wait for the thread."""
        portal = self._portal
        if portal is not None and self._thread.is_alive():
            portal.call(portal.stop)
        self._thread.join(10)
