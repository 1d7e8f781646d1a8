"""The testing kit from each framework it promises to work with, each in its own process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

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


def setup(pytester: pytest.Pytester, extra: str = "") -> None:
    pytester.makepyfile(frameworkapp=textwrap.dedent(APP_MODULE))
    pytester.makeini(textwrap.dedent(INI.format(extra=extra)))


def test_plain_pytest_with_the_configured_app_fixture(pytester: pytest.Pytester) -> None:
    setup(pytester, "qtasks_app = frameworkapp:app")
    pytester.makepyfile(
        test_plain="""
        import frameworkapp
        from qtasks.testing import SyncTestCase

        def test_fixture(qtasks_app, qtasks_case):
            assert qtasks_app is frameworkapp.app
            assert qtasks_case.add_task("add", 2, 3).returning == 5
            qtasks_case.assert_queued("add", 2, 3)

        def test_by_hand():
            with SyncTestCase(frameworkapp.app) as case:
                assert case.add_task("shout", "hi").returning == "HI"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:asyncio")
    result.assert_outcomes(passed=2)


def test_the_command_line_option_and_a_bad_app(pytester: pytest.Pytester) -> None:
    setup(pytester)
    pytester.makepyfile(
        test_cli="""
        def test_app(qtasks_app):
            assert qtasks_app.name == "framework-app"
        """
    )
    quiet = ("-p", "no:asyncio")
    ok = pytester.runpytest_subprocess(*quiet, "--qtasks-app", "frameworkapp:app")
    ok.assert_outcomes(passed=1)
    bad = pytester.runpytest_subprocess(*quiet, "--qtasks-app", "frameworkapp:add")
    bad.assert_outcomes(errors=1)
    bad.stdout.fnmatch_lines(["*qtasks_app 'frameworkapp:add' is a SyncTask, not an app*"])


def test_pytest_asyncio_strict_and_auto(pytester: pytest.Pytester) -> None:
    setup(
        pytester, "qtasks_app = frameworkapp:app\n    asyncio_default_fixture_loop_scope = function"
    )
    pytester.makepyfile(
        test_strict="""
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
        """
    )
    pytester.runpytest_subprocess("-p", "asyncio").assert_outcomes(passed=1)
    pytester.makepyfile(
        test_auto="""
        async def test_fixture(qtasks_async_case):
            assert (await qtasks_async_case.add_task("add", 4, 4)).returning == 8
        """
    )
    result = pytester.runpytest_subprocess("-p", "asyncio", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=2)


def test_anyio_plugin_in_its_own_process(pytester: pytest.Pytester) -> None:
    setup(pytester, "qtasks_app = frameworkapp:app")
    pytester.makepyfile(
        test_anyio="""
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_fixture(qtasks_async_case):
            assert (await qtasks_async_case.add_task("shout", "any")).returning == "ANY"
        """
    )
    pytester.runpytest_subprocess("-p", "no:asyncio").assert_outcomes(passed=1)


def test_unittest_sync_and_async(tmp_path: Path) -> None:
    (tmp_path / "frameworkapp.py").write_text(textwrap.dedent(APP_MODULE))
    (tmp_path / "test_units.py").write_text(
        textwrap.dedent(
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


            if __name__ == "__main__":
                unittest.main()
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "unittest", "-v", "test_units"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Ran 2 tests" in result.stderr and result.stderr.rstrip().endswith("OK")
