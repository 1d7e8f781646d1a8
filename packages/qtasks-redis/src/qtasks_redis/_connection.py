"""The client, scripts and outage bookkeeping that a broker, storage and config share.

One ``RedisConnection`` per server URL and app: the broker made from a URL owns it and hands
it to the storage and global config it provides, so the three use one connection pool (and
``publish``/``settle`` can put storage writes and queue scripts in one pipeline). Components
``acquire`` it on start and ``release`` it on stop; the client is built on first acquire, in
the running event loop, and closed when the last user releases it.

Lua scripts are called by SHA1 (EVALSHA) without loading them first; a NOSCRIPT reply (a new
or restarted server, SCRIPT FLUSH) loads every script and runs the failed calls again, which
is safe because a call that got NOSCRIPT did nothing.

With ``cluster=true`` the client is redis-py's ``RedisCluster`` and a pipeline goes through
its cluster pipeline, which sends each node its share of the commands (in order, concurrently
with the other nodes) and follows MOVED/ASK redirections. Every command QTasks sends touches
keys of a single slot, so this is only routing. Order between nodes is not kept, so a caller
whose later commands must wait for earlier ones on other nodes (records before the messages
that announce them, results before acks) names the points where a new *stage* begins; on a
cluster each stage completes before the next is sent, on one server the stages change nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import itertools
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import redis.asyncio as redis_asyncio
import redis.exceptions as redis_errors
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    ResponseError,
    SlotNotCoveredError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from qtasks_redis._options import RedisSettings

if TYPE_CHECKING:
    from qtasks_redis._pubsub import Subscriber

__all__ = [
    "CLIENT_ERRORS",
    "SCRIPTS",
    "Client",
    "Command",
    "ErrorKinds",
    "RedisConnection",
    "Script",
    "ScriptCall",
]

logger = logging.getLogger("qtasks.redis")

#: Errors that mean "Redis could not be reached", as opposed to an error reply. The cluster
#: ones: no node answered, a slot has no node, or the cluster says it is down.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    SlotNotCoveredError,
    ClusterDownError,
    # Newer redis-py versions only: older ones report an unreachable cluster otherwise.
    *(
        [redis_errors.RedisClusterUnreachableError]
        if hasattr(redis_errors, "RedisClusterUnreachableError")
        else []
    ),
)
#: Everything a redis-py call may raise that a component turns into its own error
#: (``RedisClusterException`` is not a ``RedisError``).
CLIENT_ERRORS: tuple[type[Exception], ...] = (RedisError, RedisClusterException, OSError)

#: The single-server client or the cluster client, chosen by the ``cluster`` option.
Client = redis_asyncio.Redis | RedisCluster


@dataclass(frozen=True)
class Script:
    """One Lua file from ``scripts/``, with the SHA1 that EVALSHA names it by."""

    name: str
    source: bytes
    sha: str


def _load_scripts() -> dict[str, Script]:
    found: dict[str, Script] = {}
    for entry in resources.files("qtasks_redis").joinpath("scripts").iterdir():
        if entry.name.endswith(".lua"):
            source = entry.read_bytes()
            name = entry.name[: -len(".lua")]
            found[name] = Script(name, source, hashlib.sha1(source).hexdigest())  # noqa: S324
    return found


SCRIPTS: dict[str, Script] = _load_scripts()


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """A script invocation inside a pipeline: ``EVALSHA sha len(keys) *keys *args``."""

    script: str
    keys: Sequence[str]
    args: Sequence[Any]

    def command(self) -> tuple[Any, ...]:
        """The EVALSHA command for this call."""
        return ("EVALSHA", SCRIPTS[self.script].sha, len(self.keys), *self.keys, *self.args)


#: A pipeline entry: a plain command (a tuple of arguments) or a script call.
Command = tuple[Any, ...] | ScriptCall


def _hiredis_packer() -> Callable[[tuple[Any, ...]], bytes] | None:
    """The C ``pack_command`` of hiredis, when the optional ``hiredis`` extra is installed."""
    try:
        module = importlib.import_module("hiredis")
    except ImportError:
        return None
    packer: Callable[[tuple[Any, ...]], bytes] | None = getattr(module, "pack_command", None)
    return packer


_PACK_COMMAND = _hiredis_packer()


def _pack(conn: AbstractConnection, argv: Sequence[tuple[Any, ...]]) -> bytes | list[bytes]:
    """The wire form of ``argv``: one C call per command when hiredis is there.

    redis-py runs every argument through a Python generator and its encoder before handing
    the command to that same C function; the arguments here are already str, bytes and
    numbers, and a pipeline of a task's writes carries a few dozen of them. Anything hiredis
    refuses (a bool, a memoryview) goes through redis-py, which names the bad argument.
    """
    if _PACK_COMMAND is not None:
        try:
            return b"".join([_PACK_COMMAND(args) for args in argv])
        except TypeError:
            pass
    packed: list[bytes] = conn.pack_commands(argv)
    return packed


@dataclass(frozen=True)
class ErrorKinds:
    """Which exception a component raises for an outage and for an error reply."""

    connection: type[Exception]
    reply: type[Exception]


def _keepalive_options() -> dict[int, int]:
    """Probe an idle connection after 10 s, every 5 s, 3 times: a dead peer shows in ~25 s."""
    wanted = {"TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3}
    return {getattr(socket, n): v for n, v in wanted.items() if hasattr(socket, n)}


if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection, ConnectionPool

#: redis-py 5 wants a command name for ``get_connection``; later versions deprecate it.
_POOL_WANTS_NAME = (
    inspect.signature(redis_asyncio.ConnectionPool.get_connection)
    .parameters["command_name"]
    .default
    is inspect.Parameter.empty
    if "command_name" in inspect.signature(redis_asyncio.ConnectionPool.get_connection).parameters
    else False
)


async def _get_connection(pool: ConnectionPool) -> AbstractConnection:
    get: Any = pool.get_connection
    conn: AbstractConnection = await (get("EVALSHA") if _POOL_WANTS_NAME else get())
    return conn


class RedisConnection:
    """A redis-py asyncio client shared by the components of one app, with its scripts."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        #: Whether this is a Redis Cluster: batches of records are then split by slot.
        self.cluster = settings.cluster
        self._client: Client | None = None
        self._users = 0
        self._outage_since: float | None = None
        self._subscriber: Subscriber | None = None
        self._node_subscribers: dict[str, Subscriber] = {}
        self._node_turn = 0

    @property
    def safe_url(self) -> str:
        """The server URL with its password hidden."""
        return self.settings.safe_url

    # -- lifecycle ---------------------------------------------------------------------------

    async def acquire(self) -> None:
        """Count one more user; the client itself connects lazily on the first command."""
        self._users += 1
        if self._client is None:
            self._client = self._make_client()

    async def release(self) -> None:
        """Count one user less; the last one closes the client and the subscriber."""
        self._users = max(0, self._users - 1)
        if self._users:
            return
        client, self._client = self._client, None
        subscribers = [self._subscriber, *self._node_subscribers.values()]
        self._subscriber = None
        self._node_subscribers = {}
        for subscriber in subscribers:
            if subscriber is not None:
                await subscriber.close()
        if client is not None:
            try:
                await client.aclose()
            except Exception as exc:  # closing a pool whose server is gone
                logger.debug("closing the Redis client failed: %r", exc)

    def _make_client(self) -> Client:
        settings = self.settings
        options: dict[str, Any] = {
            "socket_timeout": settings.socket_timeout,
            "socket_connect_timeout": settings.socket_connect_timeout,
            "retry": Retry(EqualJitterBackoff(cap=1.0, base=0.05), settings.retries),
            "retry_on_error": [RedisConnectionError, RedisTimeoutError],
            "decode_responses": False,
            "protocol": 2,  # the reply shapes this package parses; RESP3 gains nothing here
        }
        if not settings.url.startswith("unix:"):  # TCP keepalive has no meaning on a socket file
            options["socket_keepalive"] = True
            options["socket_keepalive_options"] = _keepalive_options()
        options.update(settings.client_options)
        if self.cluster:
            return RedisCluster.from_url(settings.url, **options)
        client: redis_asyncio.Redis = redis_asyncio.Redis.from_url(settings.url, **options)
        return client

    @property
    def client(self) -> Client:
        """The client; only valid between ``acquire`` and the last ``release``."""
        if self._client is None:
            raise RuntimeError(
                f"the Redis connection to {self.safe_url} is not open; start the component "
                "(or the app) before using it"
            )
        return self._client

    @property
    def subscriber(self) -> Subscriber:
        """The one pub/sub connection of this client, made on first use."""
        if self._subscriber is None:
            from qtasks_redis._pubsub import Subscriber  # noqa: PLC0415 - import cycle

            self._subscriber = Subscriber(self)
        return self._subscriber

    def subscriber_for(self, key: str) -> Subscriber:
        """The subscriber that hears first what a script writing ``key`` publishes.

        On one server that is the one subscriber. On a cluster a script's PUBLISH reaches
        the subscribers on its own node at once and the other nodes over the cluster bus,
        which adds latency (a 40 ms stall for a few percent of messages was measured on
        Redis 7.0), so the subscriber connects to the node that owns ``key``'s slot: one
        subscriber connection per node in use. Any node would still hear the message, so a
        topology change costs only that latency, never a message.
        """
        client = self._client
        if not isinstance(client, RedisCluster):
            return self.subscriber
        try:
            node = client.get_node_from_key(key)
        except (RedisClusterException, RedisError, LookupError):  # no topology loaded yet
            node = None
        if node is None:
            return self.subscriber
        found = self._node_subscribers.get(node.name)
        if found is None:
            from qtasks_redis._pubsub import Subscriber  # noqa: PLC0415 - import cycle

            found = self._node_subscribers[node.name] = Subscriber(self, prefer=node.name)
        return found

    async def open_dedicated(self, prefer: str | None = None) -> AbstractConnection:
        """A new connection outside the pool, without a read timeout (for pub/sub).

        On a cluster: to the node named ``prefer`` (``host:port``) if it answers, else to
        the next node that does; without ``prefer`` each call starts at the next node in
        turn. Plain pub/sub is cluster-wide, so every node is a correct choice.
        """
        client = self.client
        if not isinstance(client, RedisCluster):
            pool = client.connection_pool
            kwargs: dict[str, Any] = dict(pool.connection_kwargs)
            kwargs["socket_timeout"] = None  # a subscriber waits for messages indefinitely
            conn: AbstractConnection = pool.connection_class(**kwargs)
            await conn.connect()  # type: ignore[no-untyped-call]
            return conn
        await client.initialize()
        nodes = client.get_primaries() or client.get_nodes()
        names = [node.name for node in nodes]
        if prefer in names:
            first = names.index(prefer)
        else:
            first = self._node_turn
            self._node_turn += 1
        failure: Exception | None = None
        for step in range(len(nodes)):
            node = nodes[(first + step) % len(nodes)]
            kwargs = dict(node.connection_kwargs)
            kwargs["socket_timeout"] = None
            kwargs["retry"] = Retry(NoBackoff(), 0)  # the next node, not the same one again
            conn = node.connection_class(**kwargs)
            try:
                await conn.connect()  # type: ignore[no-untyped-call]
            except CLIENT_ERRORS as exc:
                failure = exc
                continue
            return conn
        raise failure or RedisConnectionError("no node of the Redis Cluster is known")

    # -- outage bookkeeping -------------------------------------------------------------------

    def lost(self, exc: BaseException) -> None:
        """Note a failed command; only the first failure of an outage is logged."""
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            logger.warning(
                "lost the connection to Redis at %s (%r); reconnecting with backoff",
                self.safe_url,
                exc,
            )

    def ok(self) -> None:
        """Note a command that worked; logs the end of an outage."""
        if self._outage_since is not None:
            took = time.monotonic() - self._outage_since
            self._outage_since = None
            logger.warning("reconnected to Redis at %s after %.1f s", self.safe_url, took)

    def wrap(self, exc: BaseException, errors: ErrorKinds, doing: str) -> Exception:
        """Turn a redis-py exception into the component's error, naming the safe URL."""
        if isinstance(exc, CONNECTION_ERRORS):
            self.lost(exc)
            reason = str(exc).rstrip(".")
            return errors.connection(
                f"cannot reach Redis at {self.safe_url} to {doing}: {reason}. Check that the "
                "server runs and the URL (host, port, password, TLS) is right"
            )
        return self.refused(exc, errors, doing)

    def refused(self, exc: BaseException, errors: ErrorKinds, doing: str) -> Exception:
        """The component's error for an error reply, with the fix when the cause is known."""
        text = str(exc).rstrip(".")
        fix = ""
        if isinstance(exc, AskError) and not self.cluster:  # MOVED is a kind of ASK
            text = f"{'MOVED' if isinstance(exc, MovedError) else 'ASK'} {text}"
            fix = ". This server is a Redis Cluster node: add ?cluster=true to the URL"
        elif "cluster mode is not enabled" in text.lower() or (
            "cluster support disabled" in text.lower()
        ):
            fix = ". This server is not a Redis Cluster: drop cluster=true from the URL"
        return errors.reply(f"Redis at {self.safe_url} refused to {doing}: {text}{fix}")

    # -- commands ----------------------------------------------------------------------------

    async def call(self, errors: ErrorKinds, doing: str, *args: Any) -> Any:
        """Run one command."""
        try:
            result = await self.client.execute_command(*args)
        except CLIENT_ERRORS as exc:
            raise self.wrap(exc, errors, doing) from exc
        self.ok()
        return result

    async def pipeline(
        self,
        errors: ErrorKinds,
        doing: str,
        commands: Sequence[Command],
        stages: Sequence[int] = (),
    ) -> list[Any]:
        """Send ``commands`` in one round trip (no MULTI) and return their replies in order.

        Redis runs them in order, so a later command sees what an earlier one wrote. An error
        reply raises the component's reply error after the whole pipeline ran. ``stages``:
        positions in ``commands`` where a stage begins (see the module docstring); only a
        cluster needs them, and spends one round trip per stage.
        """
        if not commands:
            return []
        try:
            if self.cluster:
                results = await self._send_staged(commands, stages)
            else:
                results = await self._send_loading(self._send, commands)
        except CLIENT_ERRORS as exc:
            raise self.wrap(exc, errors, doing) from exc
        self.ok()
        for result in results:
            if isinstance(result, ResponseError):
                raise self.refused(result, errors, doing)
        return results

    async def _send(self, commands: Sequence[Command]) -> list[Any]:
        """Write every command at once on one pooled connection, then read every reply.

        This is redis-py's pipeline without its per-call machinery (which costs about as
        much as a local round trip). A connection that breaks mid-way is dropped and the
        whole batch is sent again after a backoff, up to ``retries`` times; connecting
        itself is retried by redis-py. Error replies come back in place, as exceptions.
        """
        argv = [c.command() if isinstance(c, ScriptCall) else c for c in commands]
        pool = self.client.connection_pool  # type: ignore[union-attr]  # one server only
        attempt = 0
        while True:
            conn = await _get_connection(pool)
            try:
                await conn.send_packed_command(_pack(conn, argv), check_health=False)
                results: list[Any] = []
                for _ in argv:
                    try:
                        results.append(await conn.read_response())
                    except ResponseError as exc:
                        results.append(exc)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                await conn.disconnect()
                if attempt >= self.settings.retries:
                    raise
                attempt += 1
                await asyncio.sleep(min(1.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2))
                continue
            except BaseException:
                await conn.disconnect()  # a half-read reply must never reach the next user
                raise
            finally:
                await pool.release(conn)
            return results

    async def _send_staged(self, commands: Sequence[Command], stages: Sequence[int]) -> list[Any]:
        """Send each stage through the cluster pipeline once the one before it completed.

        A NOSCRIPT reply (a node restarted or added) loads the scripts on every node and
        runs the failed calls again before the next stage goes out, so the order holds.
        """
        bounds = [0, *(s for s in stages if 0 < s < len(commands)), len(commands)]
        results: list[Any] = []
        for start, end in itertools.pairwise(bounds):
            if start == end:
                continue
            results += await self._send_loading(self._send_cluster, commands[start:end])
        return results

    async def _send_loading(
        self,
        send: Callable[[Sequence[Command]], Awaitable[list[Any]]],
        commands: Sequence[Command],
    ) -> list[Any]:
        """``send(commands)``; the calls that got NOSCRIPT run again once the scripts load."""
        results = await send(commands)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            await self.load_scripts()
            again = await send([commands[i] for i in missing])
            for index, result in zip(missing, again, strict=True):
                results[index] = result
        return results

    async def _send_cluster(self, commands: Sequence[Command]) -> list[Any]:
        """One cluster pipeline: each node gets its commands in order, all nodes at once.

        Error replies come back in place; an outage (after redis-py's retries and topology
        refreshes) raises.
        """
        pipe = self.client.pipeline()
        for command in commands:
            argv = command.command() if isinstance(command, ScriptCall) else command
            pipe.execute_command(*argv)
        results: list[Any] = await pipe.execute(raise_on_error=False)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, ResponseError):
                raise result
        return results

    async def load_scripts(self) -> None:
        """Load every Lua script (after NOSCRIPT: a new server, a restart, SCRIPT FLUSH)."""
        client = self.client
        if isinstance(client, RedisCluster):
            await client.initialize()
            nodes = client.get_nodes()  # replicas too: one may be promoted later
            for script in SCRIPTS.values():
                # Named nodes, not the ALL_NODES flag: some redis-py versions look for a key
                # in SCRIPT LOAD before they honour the flag.
                await client.execute_command("SCRIPT", "LOAD", script.source, target_nodes=nodes)
            return
        pipe = client.pipeline(transaction=False)
        for script in SCRIPTS.values():
            pipe.execute_command("SCRIPT", "LOAD", script.source)
        await pipe.execute()
