from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from qtasks.testing.servers import probe_redis, server_missing

from ..conftest import delete_redis_keys

WORKER = Path(__file__).with_name("worker_app.py")

Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def name(redis_url: str) -> Iterator[str]:
    """A fresh app name; its keys are deleted afterwards."""
    value = f"it-{uuid.uuid4().hex[:10]}"
    yield value
    delete_redis_keys(redis_url, value)


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start worker subprocesses; whatever is still running at the end is stopped."""
    started: list[subprocess.Popen[bytes]] = []

    def start(url: str, name: str, *options: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), url, name, *options],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- a private Redis Cluster -------------------------------------------------------------------

CLUSTER_NODES = 3


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports, held open together so none is handed out twice."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class LocalCluster:
    """Three master ``redis-server`` processes on loopback, joined into one Redis Cluster.

    Each node has its own temporary directory (its ``nodes.conf``), no persistence, and an
    explicit cluster-bus port, so nothing collides with the shared server on 6379 or with
    another test run. ``close`` kills every process and removes the directories.
    """

    def __init__(self, server: str, cli: str) -> None:
        self.server = server
        self.cli = cli
        ports = _free_ports(2 * CLUSTER_NODES)
        self.ports = ports[:CLUSTER_NODES]
        self.bus_ports = ports[CLUSTER_NODES:]
        self.root = Path(tempfile.mkdtemp(prefix="qtasks-cluster-"))
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The QTasks URL: any one node, with ``cluster=true``."""
        return f"redis://127.0.0.1:{self.ports[0]}/0?cluster=true"

    def start(self, timeout: float = 30.0) -> None:
        for port, bus in zip(self.ports, self.bus_ports, strict=True):
            home = self.root / str(port)
            home.mkdir()
            command = [self.server, "--bind", "127.0.0.1", "--port", str(port)]
            command += ["--cluster-enabled", "yes", "--cluster-port", str(bus)]
            command += ["--cluster-config-file", str(home / "nodes.conf")]
            command += ["--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no"]
            command += ["--dir", str(home), "--protected-mode", "yes"]
            with (home / "server.log").open("wb") as log:
                self.processes.append(
                    subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
                )
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while not probe_redis("127.0.0.1", port):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cluster node on port {port} never answered PING")
                time.sleep(0.02)
        create = [self.cli, "--cluster", "create"]
        create += [f"127.0.0.1:{port}" for port in self.ports]
        create += ["--cluster-replicas", "0", "--cluster-yes"]
        done = subprocess.run(create, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout[-2000:]!r}")
        while not all(self._state_ok(port) for port in self.ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster never reported cluster_state:ok on every node")
            time.sleep(0.05)

    @staticmethod
    def _state_ok(port: int) -> bool:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        try:
            info = client.execute_command("CLUSTER INFO")
        except redis.RedisError:
            return False
        finally:
            client.close()
        if isinstance(info, bytes):  # redis-py parses the reply into a dict, or leaves it
            info = dict(line.split(":", 1) for line in info.decode().split() if ":" in line)
        fields = {str(k): str(v) for k, v in info.items()}
        return fields.get("cluster_state") == "ok" and fields.get("cluster_slots_ok") == "16384"

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    """A Redis Cluster of this test module's own (three masters); its URL for QTasks."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        server_missing("Redis Cluster", "redis-server and redis-cli are needed to start one")
    cluster = LocalCluster(server, cli)
    try:
        try:
            cluster.start()
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            server_missing("Redis Cluster", f"could not start a local one: {exc}")
        yield cluster.url
    finally:
        cluster.close()
