from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import redis

from qtasks.asyncio import QueueTasks
from qtasks.testing.servers import private_redis, probe_redis, redis_url, server_missing
from qtasks_redis import keys
from qtasks_redis._component import RedisComponent

R = TypeVar("R", bound=RedisComponent)

__all__ = [
    "anyio_backend",
    "app",
    "cleanup",
    "cluster_url",
    "name",
    "private_redis",
    "raw",
    "redis_url",
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def delete_app_keys(url: str, name: str) -> None:
    """Every key of the app (or conformance namespace) ``name`` on the server at ``url``."""
    client = redis.Redis.from_url(url)
    try:
        for pattern in keys.app_key_patterns(name):
            found = list(client.scan_iter(match=pattern, count=1000))
            for start in range(0, len(found), 1000):
                client.delete(*found[start : start + 1000])
    finally:
        client.close()


@pytest.fixture
def name(redis_url: str) -> Iterator[str]:
    """A fresh app name; every key of that app is deleted afterwards."""
    value = f"t-{uuid.uuid4().hex[:10]}"
    yield value
    delete_app_keys(redis_url, value)


@pytest.fixture
def cleanup(redis_url: str) -> Iterator[Callable[[R], R]]:
    """Register components (as a conformance factory makes them); after the test the keys of
    every namespace they were bound to are deleted from the shared server. A component on
    another server (this session's private cluster) is left alone: that server goes away."""
    made: list[RedisComponent] = []

    def register(component: R) -> R:
        made.append(component)
        return component

    yield register
    for namespace in sorted({c.namespace for c in made if not c.connection.cluster}):
        delete_app_keys(redis_url, namespace)


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain synchronous client, standing for redis-cli or another program."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
async def app(redis_url: str, name: str) -> AsyncIterator[QueueTasks]:
    application = QueueTasks(name, broker=redis_url)
    yield application
    await application.stop()


@pytest.fixture(scope="session")
def cluster_url() -> Iterator[str]:
    """A one-node Redis Cluster of this session's own, holding every slot.

    One node is enough for this package's tests: Redis refuses a multi-key command or script
    whose keys span slots even when one node owns them all, and the client side (redis-py's
    cluster client and pipeline) is the same. ``integration/redis/test_cluster.py`` runs
    against three nodes.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        server_missing("redis-server (a one-node cluster)", "redis-server is not installed")
    home = Path(tempfile.mkdtemp(prefix="qtasks-cluster1-"))
    port, bus = _two_free_ports()
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--cluster-enabled", "yes"]
    command += ["--cluster-port", str(bus), "--cluster-config-file", str(home / "nodes.conf")]
    command += ["--save", "", "--appendonly", "no", "--dir", str(home)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        deadline = time.monotonic() + 15
        while not probe_redis("127.0.0.1", port):
            if time.monotonic() > deadline or process.poll() is not None:
                server_missing("redis-server (a one-node cluster)", "it never answered PING")
            time.sleep(0.02)
        try:
            client.execute_command("CLUSTER ADDSLOTSRANGE", 0, 16383)
        except redis.ResponseError:  # Redis before 7.0
            client.execute_command("CLUSTER ADDSLOTS", *range(16384))
        while client.execute_command("CLUSTER INFO").get("cluster_state") != "ok":
            if time.monotonic() > deadline:
                server_missing("redis-server (a one-node cluster)", "cluster_state never ok")
            time.sleep(0.02)
        client.close()
        yield f"redis://127.0.0.1:{port}/0?cluster=true"
    finally:
        process.kill()
        process.wait(10)
        shutil.rmtree(home, ignore_errors=True)


def _two_free_ports() -> tuple[int, int]:
    with socket.socket() as first, socket.socket() as second:
        first.bind(("127.0.0.1", 0))
        second.bind(("127.0.0.1", 0))
        return first.getsockname()[1], second.getsockname()[1]
