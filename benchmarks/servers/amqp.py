"""The bench RabbitMQ: a private node started for the run, never the machine's own server.

The node has a name, AMQP and distribution ports, data directory and Erlang cookie (its HOME)
of its own, so the RabbitMQ a machine already runs (5672) is neither touched nor loaded by the
systems under test. Between systems its vhost ``bench`` is deleted and created again, which
drops every queue, exchange and message the previous system left. Boot takes a few seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qtasks.testing.servers import LOOPBACK, free_port, probe_amqp

from . import UnavailableError

__all__ = ["RabbitMQServer", "add_arguments", "open_server"]

VHOST = "bench"
#: The scripts that run the node as the calling user (the /usr/sbin wrappers switch to the
#: rabbitmq user, who could not write this run's temporary directory).
PACKAGED = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
#: Recreate the vhost in one rabbitmqctl call (each call boots an Erlang VM: about 0.3 s).
RESET = (
    '(catch rabbit_vhost:delete(<<"{vhost}">>, <<"qtasks-bench">>)), '
    'ok = rabbit_vhost:add(<<"{vhost}">>, <<"qtasks-bench">>), '
    'ok = rabbit_auth_backend_internal:set_permissions(<<"guest">>, <<"{vhost}">>, '
    '<<".*">>, <<".*">>, <<".*">>, <<"qtasks-bench">>).'
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--rabbitmq-server``."""
    group = parser.add_argument_group("rabbitmq")
    default = str(PACKAGED) if PACKAGED.exists() else shutil.which("rabbitmq-server")
    group.add_argument(
        "--rabbitmq-server",
        default=default,
        help="the rabbitmq-server script to start a private node with (rabbitmqctl must be "
        "beside it; default: the Debian package's)",
    )


class RabbitMQServer:
    """A private RabbitMQ node: ``url`` (vhost ``bench``) for the systems, ``reset`` between."""

    kind = "amqp"

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.ctl = binary.with_name("rabbitmqctl")
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"qtasks-bench-{self.port}@localhost"
        self.base = Path(tempfile.mkdtemp(prefix="qtasks-bench-rabbitmq-"))
        self.url = f"amqp://guest:guest@{LOOPBACK}:{self.port}/{VHOST}"
        self.version = ""
        self._process: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        base = self.base
        return {
            **os.environ,
            "HOME": str(base),  # the node's own Erlang cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        }

    def _ctl(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [str(self.ctl), "-n", self.node, *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {args[0]} failed: {done.stderr or done.stdout}")
        return done.stdout

    def start(self) -> None:
        """Boot the node (no plugins) and wait until it runs."""
        (self.base / "log").mkdir()
        (self.base / "mnesia").mkdir()
        (self.base / "enabled_plugins").write_text("[].\n")  # no plugins: the fastest boot
        (self.base / "rabbitmq.conf").write_text("")
        with (self.base / "server.log").open("wb") as log:
            self._process = subprocess.Popen(
                [str(self.binary)],
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            # rabbitmqctl gives up on a node that has not registered yet: wait for the
            # listener first, then for the boot to finish.
            deadline = time.monotonic() + 120
            while not probe_amqp(LOOPBACK, self.port):
                if self._process.poll() is not None:
                    raise RuntimeError(f"the node exited with code {self._process.returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nothing answered AMQP on port {self.port} in 120 s")
                time.sleep(0.2)
            self._ctl("await_startup", "--timeout", "60", timeout=90)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            tail = (self.base / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the private RabbitMQ node did not start: {exc}\n{tail}") from exc
        self.version = self._ctl("eval", "rabbit_misc:version().").strip().strip('"')

    def reset(self) -> None:
        """Delete the vhost (queues, exchanges, messages) and create it again, empty."""
        self._ctl("eval", RESET.format(vhost=VHOST))

    def describe(self) -> dict[str, Any]:
        """Version, and that the run started it."""
        return {
            "private": True,
            "version": self.version,
            "summary": f"RabbitMQ {self.version} (a private node started for the run)",
        }

    def stop(self) -> None:
        """Stop the node (SIGTERM shuts it down cleanly), then its process group."""
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(30)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            if process.poll() is None:
                process.wait(10)
        shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def open_server(options: argparse.Namespace) -> Iterator[RabbitMQServer]:
    """A private RabbitMQ node for this run, stopped and removed at the end."""
    binary = Path(options.rabbitmq_server) if options.rabbitmq_server else None
    if binary is None or not binary.exists():
        raise UnavailableError(
            "rabbitmq-server is not installed (apt-get install rabbitmq-server, or pass "
            "--rabbitmq-server)"
        )
    if not binary.with_name("rabbitmqctl").exists():
        raise UnavailableError(f"no rabbitmqctl beside {binary}")
    server = RabbitMQServer(binary)
    try:
        try:
            server.start()
            server.reset()
        except (OSError, RuntimeError) as exc:
            raise UnavailableError(str(exc)) from exc
        yield server
    finally:
        server.stop()
