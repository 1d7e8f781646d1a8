"""``unix://`` URLs reach a Redis listening on a socket file, end to end."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtasks.asyncio import QueueTasks
from qtasks.testing.servers import server_missing
from qtasks_redis import RedisBroker
from qtasks_redis._options import parse_settings


@pytest.fixture
def socket_path() -> Iterator[Path]:
    binary = shutil.which("redis-server")
    if binary is None:
        server_missing("redis-server", "needed for a private server on a unix socket")
    # A socket path may hold about 107 bytes; pytest's tmp_path under nox's TMPDIR (inside
    # the checkout) is longer than that, so the socket gets a short directory of its own.
    home = Path(tempfile.mkdtemp(prefix="qtr-", dir="/tmp" if Path("/tmp").is_dir() else None))
    path = home / "redis.sock"
    process = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(path), "--save", "", "--dir", str(home)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not path.exists():
            assert time.monotonic() < deadline, "redis-server did not create its socket"
            time.sleep(0.02)
        yield path
    finally:
        process.kill()
        process.wait(10)
        shutil.rmtree(home, ignore_errors=True)


def test_the_url_keeps_its_slashes() -> None:
    settings = parse_settings("unix:///tmp/redis.sock?db=2&visibility_timeout=9")
    assert settings.url == "unix:///tmp/redis.sock?db=2"
    assert settings.visibility_timeout == 9


@pytest.mark.anyio
async def test_an_app_runs_over_a_unix_socket(socket_path: Path) -> None:
    app = QueueTasks("unix-socket", broker=f"unix://{socket_path}?db=0")
    assert isinstance(app.broker, RedisBroker)

    @app.task
    async def double(n: int) -> int:
        return n * 2

    try:
        async with app.running():
            done = await app.add_task("double", 21, timeout=10)
        assert done.returning == 42
    finally:
        await app.stop()
