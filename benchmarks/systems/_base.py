"""What every benchmarked system gives the harness, so each workload is one piece of code.

A *system* is one task queue set up one way: ``celery``, ``rq@simple``, ``qtasks-redis``. The
harness (``benchmarks._harness``) drives it only through ``System``; nothing in a workload
knows which library it is timing. Each system defines the same three tasks, by these names
and with these arguments, so every worker does identical work:

* ``noop(key)``: one INCR of ``key`` (the per-task Redis write every system pays).
* ``probe(key, token)``: one RPUSH of ``token`` onto ``key`` (what the uniform W3 probe BLPOPs).
* ``nap(key, seconds)``: sleep ``seconds`` (without blocking an event loop), then INCR ``key``.

A module under ``benchmarks/systems/`` exports ``SYSTEMS``, a tuple of ``System`` subclasses
(a variant such as ``rq@simple`` is a subclass that changes a setting). Client libraries are
imported inside methods, never at module level, so the driver can list every system and say
which ones are not installed without importing any of them.
"""

from __future__ import annotations

import importlib.util
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

__all__ = ["ENV_VAR", "TASKS", "Environment", "System", "TaskName"]

TaskName = Literal["noop", "probe", "nap"]
TASKS: tuple[TaskName, ...] = ("noop", "probe", "nap")

#: Every process of a run (harness client, worker) finds its ``Environment`` here, as JSON.
ENV_VAR = "QTASKS_BENCH_ENV"


@dataclass(frozen=True)
class Environment:
    """Where this run's servers are and how to start a worker process."""

    servers: Mapping[str, str] = field(default_factory=dict)
    python: str = ""
    root: str = ""
    logdir: str = ""

    def to_json(self) -> str:
        """The form passed to child processes."""
        return json.dumps(
            {
                "servers": dict(self.servers),
                "python": self.python,
                "root": self.root,
                "logdir": self.logdir,
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> Environment:
        """Read what ``to_json`` wrote."""
        data = json.loads(raw)
        return cls(
            servers=dict(data["servers"]),
            python=data["python"],
            root=data["root"],
            logdir=data["logdir"],
        )

    @classmethod
    def current(cls) -> Environment:
        """This process's environment (set by the driver for every process it starts)."""
        raw = os.environ.get(ENV_VAR)
        if not raw:
            raise RuntimeError(f"{ENV_VAR} is not set: start benchmarks with `nox -s bench`")
        return cls.from_json(raw)

    def url(self, server: str) -> str:
        """The URL of ``server`` for this run ("redis", "amqp", "kafka")."""
        try:
            return self.servers[server]
        except KeyError:
            raise RuntimeError(f"this run has no {server} server") from None

    def child_env(self) -> dict[str, str]:
        """``os.environ`` for a child process: the repository importable, this env passed on."""
        env = dict(os.environ)
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = self.root + (os.pathsep + path if path else "")
        env[ENV_VAR] = self.to_json()
        return env

    def log_path(self, name: str) -> Path:
        """A log file for ``name`` in this run's log directory."""
        safe = name.replace("@", "-").replace("/", "-")
        return Path(self.logdir) / f"{safe}.log"


class System(ABC):
    """One task queue, set up one way, as the harness sees it.

    Class attributes describe it for the table, the JSON and the driver; methods are what the
    workloads call. ``open`` comes first and ``close`` last; ``start_worker`` and
    ``stop_worker`` may be called several times in between.
    """

    #: Row name in the table; ``base@variant`` for a variant.
    name: ClassVar[str]
    #: One line on how it is set up (worker model, concurrency, result store, settings).
    summary: ClassVar[str]
    #: Import names that must be importable for the system to run.
    requires: ClassVar[tuple[str, ...]] = ()
    #: Distributions whose versions the JSON reports.
    distributions: ClassVar[tuple[str, ...]] = ()
    #: The server kinds it needs from the driver ("redis", "amqp", "kafka"); () for none.
    servers: ClassVar[tuple[str, ...]] = ("redis",)
    #: Tasks that can run at once in its worker: the W4 ceiling is this / sleep seconds.
    concurrency: ClassVar[int]
    #: Whether it has a bulk enqueue API (W1 bulk).
    bulk: ClassVar[bool] = False
    #: Whether the uniform BLPOP probe applies (it needs the bench Redis).
    probe: ClassVar[bool] = True
    #: Rows sort by (rank, name): QTasks first (in memory, then by broker), then the peers.
    rank: ClassVar[int] = 10

    def __init__(self, env: Environment) -> None:
        self.env = env
        #: Events worth reporting that are not failures (arq's result race retries, ...).
        self.counters: dict[str, int] = {}

    @classmethod
    def missing(cls) -> str | None:
        """The first required module that is not installed, or None."""
        for module in cls.requires:
            try:
                found = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                found = None
            if found is None:
                return module
        return None

    def count(self, counter: str) -> None:
        """Record one ``counter`` event for the JSON."""
        self.counters[counter] = self.counters.get(counter, 0) + 1

    # -- producer side -----------------------------------------------------------------------

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect the producer side; nothing is timed yet."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what ``open`` took."""

    @abstractmethod
    async def enqueue(self, task: TaskName, args: tuple[Any, ...]) -> None:
        """Queue one task with the library's ordinary single-task call."""

    async def enqueue_bulk(self, task: TaskName, calls: Sequence[tuple[Any, ...]]) -> None:
        """Queue many tasks with the library's bulk API (only when ``bulk`` is true)."""
        raise TypeError(f"{self.name} has no bulk enqueue API")

    @abstractmethod
    async def call(self, task: TaskName, args: tuple[Any, ...], timeout: float) -> None:
        """Queue one task and wait for its result through the library's own result API."""

    async def queued(self) -> int | None:
        """Tasks waiting in the queue, where the library can tell (checks W1 bulk)."""
        return None

    # -- worker side -------------------------------------------------------------------------

    @abstractmethod
    async def start_worker(self) -> None:
        """Start one worker (returns once it is launched, not once it is ready)."""

    @abstractmethod
    async def stop_worker(self) -> None:
        """Stop the worker and wait until it is gone."""

    @abstractmethod
    async def purge(self) -> None:
        """Drop every queued task (with the worker stopped); only after W2 ran out of time."""

    @abstractmethod
    def worker_problem(self) -> str | None:
        """Why the worker cannot be making progress (it exited), or None."""

    # -- observation -------------------------------------------------------------------------

    @abstractmethod
    async def completions(self, key: str) -> int:
        """How many tasks have incremented ``key`` so far."""

    async def wait_probe(self, key: str, timeout: float) -> str | None:
        """BLPOP ``key``: the token a ``probe`` task pushed, or None after ``timeout``."""
        raise TypeError(f"{self.name} has no uniform probe")
