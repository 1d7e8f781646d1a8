"""Settings of the Redis backend, from keyword arguments or the URL's query string.

QTasks' own options (``visibility_timeout``, ``result_ttl`` ...) may be given in the URL, so
``QueueTasks(broker="redis://host/0?visibility_timeout=60&result_ttl=3600")`` configures all
three components; every other query parameter is left for redis-py (``socket_keepalive`` ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from qtasks.discovery import redact_url
from qtasks.exceptions import ConfigurationError
from qtasks.interfaces.storage import DEFAULT_RESULT_TTL

__all__ = ["DEFAULT_URL", "RedisSettings", "parse_settings"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True)
class RedisSettings:
    """Everything the three components and their shared connection need.

    ``visibility_timeout``: seconds a delivered message stays owned by its worker without a
    heartbeat before another worker may take it. ``result_ttl``: seconds a finished record is
    kept (``None``: forever). ``pending_ttl``: seconds an unfinished record is kept beyond its
    due time (default a week, so records of messages purged or lost do not pile up; ``None``:
    until it finishes). ``dead_letter_max`` / ``dead_letter_ttl``: how many dead letters a
    queue keeps and for how long (``None``: no bound of that kind; at least one must be set).
    ``retries``: attempts redis-py makes, with jittered exponential backoff, before an outage
    is reported. ``cluster``: the URL names one node of a Redis Cluster (any node; the rest
    are discovered), and redis-py's ``RedisCluster`` client is used (``?cluster=true``).
    ``socket_timeout`` is off by default: redis-py arms a timer around every read when it
    is set, which costs more than the round trip itself on a local server;
    TCP keepalive probes (after 10 s idle) find a dead peer instead. ``client_options``:
    passed to ``redis.asyncio.Redis.from_url`` (or ``RedisCluster.from_url``).
    """

    url: str = DEFAULT_URL
    visibility_timeout: float = 30.0
    result_ttl: float | None = DEFAULT_RESULT_TTL
    pending_ttl: float | None = 7 * 24 * 3600.0
    dead_letter_max: int | None = 10_000
    dead_letter_ttl: float | None = 7 * 24 * 3600.0
    socket_timeout: float | None = None
    socket_connect_timeout: float = 5.0
    retries: int = 3
    cluster: bool = False
    client_options: dict[str, Any] = field(default_factory=dict)

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden, for messages and logs."""
        return redact_url(self.url)

    def check(self) -> RedisSettings:
        """Refuse values that cannot work, naming the option and the fix."""
        where = self.safe_url
        if urlsplit(self.url).scheme.lower() not in SCHEMES:
            raise ConfigurationError(
                f"{where}: a Redis URL starts with redis://, rediss:// (TLS) or unix://"
            )
        _positive("visibility_timeout", self.visibility_timeout, where)
        _positive("socket_connect_timeout", self.socket_connect_timeout, where)
        for name in ("result_ttl", "pending_ttl", "dead_letter_ttl", "socket_timeout"):
            value = getattr(self, name)
            if value is not None:
                _positive(name, value, where)
        if self.dead_letter_max is not None and (
            not isinstance(self.dead_letter_max, int) or self.dead_letter_max < 1
        ):
            raise ConfigurationError(
                f"{where}: dead_letter_max must be an int >= 1 or None, "
                f"got {self.dead_letter_max!r}"
            )
        if self.dead_letter_max is None and self.dead_letter_ttl is None:
            raise ConfigurationError(
                f"{where}: set dead_letter_max or dead_letter_ttl (or both); with neither, the "
                "dead-letter stream would grow without bound"
            )
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ConfigurationError(f"{where}: retries must be an int >= 0, got {self.retries!r}")
        if not isinstance(self.cluster, bool):
            raise ConfigurationError(
                f"{where}: cluster must be True or False, got {self.cluster!r}"
            )
        if self.cluster:
            _check_cluster_url(self.url, where)
        return self


def _check_cluster_url(url: str, where: str) -> None:
    """A cluster has no database numbers and no Unix socket endpoints: say so up front."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "unix":
        raise ConfigurationError(
            f"{where}: cluster=true needs a redis:// or rediss:// URL naming one cluster node "
            "(host:port); a Redis Cluster is not reached through a Unix socket"
        )
    if parts.path.strip("/") not in ("", "0"):
        raise ConfigurationError(
            f"{where}: a Redis Cluster has only database 0; drop the /{parts.path.strip('/')} "
            "from the URL (or use /0) when cluster=true"
        )


def _positive(name: str, value: object, where: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (0 < float(value) < math.inf):  # type: ignore[arg-type]
        raise ConfigurationError(f"{where}: {name} must be a number of seconds > 0, got {value!r}")


_FLOATS = {"visibility_timeout", "socket_connect_timeout"}
_OPTIONAL_FLOATS = {"result_ttl", "pending_ttl", "dead_letter_ttl", "socket_timeout"}
_INTS = {"retries"}
_OPTIONAL_INTS = {"dead_letter_max"}
_BOOLS = {"cluster"}
_OURS = _FLOATS | _OPTIONAL_FLOATS | _INTS | _OPTIONAL_INTS | _BOOLS
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _convert(name: str, raw: str, where: str) -> Any:
    if name in _BOOLS:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigurationError(f"{where}: URL option {name}={raw!r} must be true or false")
    if (name in _OPTIONAL_FLOATS or name in _OPTIONAL_INTS) and raw.lower() in ("none", ""):
        return None
    try:
        return int(raw) if name in _INTS or name in _OPTIONAL_INTS else float(raw)
    except ValueError:
        kind = "an integer" if name in _INTS or name in _OPTIONAL_INTS else "a number"
        raise ConfigurationError(
            f"{where}: URL option {name}={raw!r} must be {kind}"
            + (" or 'none'" if name in _OPTIONAL_FLOATS or name in _OPTIONAL_INTS else "")
        ) from None


def _without_our_options(parts: SplitResult, query: str) -> str:
    """The URL again, minus QTasks' own query options, for redis-py.

    Built by hand: ``urlunsplit`` drops the ``//`` of a URL without a host, turning
    ``unix:///tmp/redis.sock`` into ``unix:/tmp/redis.sock``, which redis-py refuses.
    """
    url = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if query:
        url += f"?{query}"
    if parts.fragment:
        url += f"#{parts.fragment}"
    return url


def parse_settings(url: str | None = None, **options: Any) -> RedisSettings:
    """Build settings from ``url`` (QTasks options in its query) and keyword ``options``.

    Keyword options win over the URL. Unknown keywords go to redis-py as client options.
    """
    url = url or DEFAULT_URL
    if not isinstance(url, str):
        raise ConfigurationError(f"a Redis URL must be a string, got {type(url).__name__}")
    parts = urlsplit(url)
    where = redact_url(url)
    known = {f.name for f in fields(RedisSettings)} - {"url", "client_options"}
    values: dict[str, Any] = {}
    rest: list[tuple[str, str]] = []
    for name, raw in parse_qsl(parts.query, keep_blank_values=True):
        if name in _OURS:
            values[name] = _convert(name, raw, where)
        else:
            rest.append((name, raw))
    client: dict[str, Any] = {}
    for name, value in options.items():
        if name in known:
            values[name] = value
        elif name == "client_options":
            client.update(value or {})
        else:
            client[name] = value
    clean = _without_our_options(parts, urlencode(rest))
    return replace(RedisSettings(url=clean, client_options=client), **values).check()
