"""The base of every system whose broker is the bench Redis and whose worker is a process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ._base import System
from ._process import WorkerProcess

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["RedisSystem"]


class RedisSystem(System):
    """Redis as broker; a worker started by ``worker_command`` in its own process.

    The harness side keeps two connections of its own to the bench Redis, apart from the
    library's: one to read completion counters, one for the uniform BLPOP probe. The probe
    blocks the way the library's client does: through ``redis.asyncio`` for asyncio clients,
    plain redis-py for blocking ones (``asyncio_client``).
    """

    servers: ClassVar[tuple[str, ...]] = ("redis",)
    #: Whether the library's producer API is asyncio (decides how the probe waits).
    asyncio_client: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._worker: WorkerProcess | None = None
        self._counter: redis.asyncio.Redis | None = None
        self._probe_async: redis.asyncio.Redis | None = None
        self._probe_sync: redis.Redis | None = None

    @property
    def url(self) -> str:
        """The bench Redis, as the library should be given it."""
        return self.env.url("redis")

    # -- hooks for subclasses ----------------------------------------------------------------

    async def connect(self) -> None:
        """Create the library's producer objects."""

    async def disconnect(self) -> None:
        """Close what ``connect`` created."""

    def worker_command(self) -> list[str]:
        """How the worker is started; by default ``serve`` in ``benchmarks._worker``."""
        return [self.env.python, "-m", "benchmarks._worker", self.name]

    def serve(self) -> None:
        """Run the worker in this process until SIGTERM (for ``benchmarks._worker``)."""
        raise TypeError(f"{self.name} starts its worker with its own command line")

    # -- System ------------------------------------------------------------------------------

    async def open(self) -> None:
        import redis as sync_redis
        import redis.asyncio as async_redis

        self._counter = async_redis.Redis.from_url(self.url)
        if self.asyncio_client:
            self._probe_async = async_redis.Redis.from_url(self.url)
        else:
            self._probe_sync = sync_redis.Redis.from_url(self.url)
        await self.connect()

    async def close(self) -> None:
        try:
            await self.stop_worker()
            await self.disconnect()
        finally:
            for client in (self._counter, self._probe_async):
                if client is not None:
                    await client.aclose()
            if self._probe_sync is not None:
                self._probe_sync.close()
            self._counter = self._probe_async = self._probe_sync = None

    async def start_worker(self) -> None:
        if self._worker is not None:
            raise RuntimeError(f"{self.name}: a worker is already running")
        worker = WorkerProcess(
            self.worker_command(),
            env=self.env.child_env(),
            cwd=self.env.root,
            log=self.env.log_path(self.name),
        )
        worker.start()
        self._worker = worker

    async def stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            await worker.stop()

    async def purge(self) -> None:
        # The bench Redis is private to the run (or dedicated with --redis-url), so clearing
        # the whole database is safe and reaches every library's own keys alike.
        assert self._counter is not None, "open() first"
        await self._counter.flushdb()

    def worker_problem(self) -> str | None:
        if self._worker is None:
            return "no worker is running"
        return self._worker.problem()

    async def completions(self, key: str) -> int:
        assert self._counter is not None, "open() first"
        value = await self._counter.get(key)
        return int(value) if value is not None else 0

    async def wait_probe(self, key: str, timeout: float) -> str | None:
        if self._probe_async is not None:
            popped = await self._probe_async.blpop([key], timeout=timeout)
        else:
            assert self._probe_sync is not None, "open() first"
            popped = self._probe_sync.blpop([key], timeout=timeout)
        if popped is None:
            return None
        value: bytes | str = popped[1]
        return value.decode() if isinstance(value, bytes) else value
