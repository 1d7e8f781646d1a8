"""The testing kit from each framework it promises to work with, each in its own process."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

APP_MODULE = """
    from qtasks import QueueTasks

    app = QueueTasks("framework-app")

    @app.task
    def add(a: int, b: int) -> int:
        return a + b

    @app.task
    async def shout(text: str) -> str:
        return text.upper()
"""

INI = """
    [pytest]
    pythonpath = .
    filterwarnings = error
    {extra}
"""

ASYNCIO_INI = "asyncio_default_fixture_loop_scope = function"


class Project:
    """A throwaway project directory whose tests run in a fresh interpreter."""

    def __init__(self, root: Path, *ini_lines: str) -> None:
        self.root = root
        self.write("frameworkapp.py", APP_MODULE)
        self.write("pytest.ini", INI.format(extra="\n    ".join(ini_lines)))

    def write(self, name: str, text: str) -> None:
        (self.root / name).write_text(textwrap.dedent(text))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def pytest(self, *args: str) -> tuple[dict[str, int], str]:
        """Run pytest there; return the counts of its summary line and the whole output."""
        result = self.run("-m", "pytest", "-p", "no:cacheprovider", *args)
        output = result.stdout + result.stderr
        lines = output.strip().splitlines()
        summary = lines[-1] if lines else ""
        counts = {noun: int(n) for n, noun in re.findall(r"(\d+) (passed|failed|errors?)", summary)}
        return counts, output


def test_plain_pytest_with_the_configured_app_fixture(tmp_path: Path) -> None:
    project = Project(tmp_path, "qtasks_app = frameworkapp:app")
    project.write(
        "test_plain.py",
        """
        import frameworkapp
        from qtasks.testing import SyncTestCase

        def test_fixture(qtasks_app, qtasks_case):
            assert qtasks_app is frameworkapp.app
            assert qtasks_case.add_task("add", 2, 3).returning == 5
            qtasks_case.assert_queued("add", 2, 3)

        def test_by_hand():
            with SyncTestCase(frameworkapp.app) as case:
                assert case.add_task("shout", "hi").returning == "HI"
        """,
    )
    counts, output = project.pytest("-p", "no:asyncio")
    assert counts == {"passed": 2}, output


def test_the_command_line_option_and_a_bad_app(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write(
        "test_cli.py",
        """
        def test_app(qtasks_app):
            assert qtasks_app.name == "framework-app"
        """,
    )
    quiet = ("-p", "no:asyncio")
    counts, output = project.pytest(*quiet, "--qtasks-app", "frameworkapp:app")
    assert counts == {"passed": 1}, output
    counts, output = project.pytest(*quiet, "--qtasks-app", "frameworkapp:add")
    assert counts == {"error": 1}, output
    assert "qtasks_app 'frameworkapp:add' is a SyncTask, not an app" in output


def test_pytest_asyncio_strict_and_auto(tmp_path: Path) -> None:
    project = Project(tmp_path, "qtasks_app = frameworkapp:app", ASYNCIO_INI)
    project.write(
        "test_strict.py",
        """
        import pytest
        import frameworkapp
        from qtasks.testing import AsyncTestCase

        @pytest.mark.asyncio
        async def test_strict():
            async with AsyncTestCase(frameworkapp.app) as case:
                done = await case.add_task("shout", "quiet")
                assert done.returning == "QUIET"
                async with case.worker():
                    queued = await case.enqueue("add", 1, 1)
                    await case.wait_until_idle()
                assert await case.assert_success(queued) == 2
        """,
    )
    counts, output = project.pytest("-p", "asyncio")
    assert counts == {"passed": 1}, output
    project.write(
        "test_auto.py",
        """
        async def test_fixture(qtasks_async_case):
            assert (await qtasks_async_case.add_task("add", 4, 4)).returning == 8
        """,
    )
    counts, output = project.pytest("-p", "asyncio", "-o", "asyncio_mode=auto")
    assert counts == {"passed": 2}, output


def test_anyio_plugin_in_its_own_process(tmp_path: Path) -> None:
    project = Project(tmp_path, "qtasks_app = frameworkapp:app")
    project.write(
        "test_anyio.py",
        """
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_fixture(qtasks_async_case):
            assert (await qtasks_async_case.add_task("shout", "any")).returning == "ANY"
        """,
    )
    counts, output = project.pytest("-p", "no:asyncio")
    assert counts == {"passed": 1}, output


def test_unittest_sync_and_async(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write(
        "test_units.py",
        """
        import unittest

        import frameworkapp
        from qtasks.testing import AsyncTestCase, SyncTestCase


        class Blocking(unittest.TestCase):
            def test_eager(self):
                with SyncTestCase(frameworkapp.app) as case:
                    self.assertEqual(case.add_task("add", 20, 22).returning, 42)
                    with case.worker():
                        queued = case.enqueue("shout", "x")
                        case.wait_until_idle()
                    self.assertEqual(case.assert_success(queued), "X")


        class Awaiting(unittest.IsolatedAsyncioTestCase):
            async def test_eager(self):
                async with AsyncTestCase(frameworkapp.app) as case:
                    done = await case.add_task("shout", "y")
                    self.assertEqual(done.returning, "Y")
        """,
    )
    result = project.run("-m", "unittest", "-v", "test_units")
    assert result.returncode == 0, result.stderr
    assert "Ran 2 tests" in result.stderr
    assert result.stderr.rstrip().endswith("OK")
