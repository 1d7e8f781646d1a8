"""The QTasks pytest plugin, loaded through the ``pytest11`` entry point.

Fixtures:

* ``qtasks_app``: the app under test. Point it at yours with the ini option
  ``qtasks_app = "package.module:app"`` (or ``--qtasks-app``), or override the fixture in a
  ``conftest.py``. Without either it is a fresh, empty sync app.
* ``qtasks_case``: ``qtasks_app`` inside an open ``SyncTestCase``, for any test.
* ``qtasks_async_case``: the same in an open ``AsyncTestCase``; an async fixture, so it needs
  an async test runner that runs async fixtures (anyio's plugin with ``@pytest.mark.anyio``,
  or pytest-asyncio in auto mode). Elsewhere write ``async with AsyncTestCase(app)``.

Loading this plugin imports QTasks and nothing else; it registers no hooks beyond options.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from qtasks.app import QueueTasks
from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.testing.case import AsyncTestCase, SyncTestCase

__all__ = ["load_app", "qtasks_app", "qtasks_async_case", "qtasks_case"]

_HELP = "the app tests get from the qtasks_app fixture, as 'package.module:attribute'"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--qtasks-app`` and the ``qtasks_app`` ini option."""
    group = parser.getgroup("qtasks")
    group.addoption("--qtasks-app", dest="qtasks_app", default=None, help=_HELP)
    parser.addini("qtasks_app", _HELP, default="")


def load_app(spec: str) -> QueueTasks | AsyncQueueTasks:
    """Import ``package.module:attribute`` and check that it is a QTasks app."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise pytest.UsageError(f"qtasks_app must look like 'package.module:app', got {spec!r}")
    found: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    if not isinstance(found, (QueueTasks, AsyncQueueTasks)):
        raise pytest.UsageError(f"qtasks_app {spec!r} is a {type(found).__name__}, not an app")
    return found


@pytest.fixture
def qtasks_app(request: pytest.FixtureRequest) -> Iterator[QueueTasks | AsyncQueueTasks]:
    """The app under test (configured, or a fresh empty sync app)."""
    spec = request.config.getoption("qtasks_app") or request.config.getini("qtasks_app")
    if spec:
        yield load_app(str(spec))
        return
    app = QueueTasks("qtasks-test")
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def qtasks_case(qtasks_app: QueueTasks | AsyncQueueTasks) -> Iterator[SyncTestCase]:
    """``qtasks_app`` on in-memory components, in an open SyncTestCase."""
    with SyncTestCase(qtasks_app) as case:
        yield case


@pytest.fixture
async def qtasks_async_case(
    qtasks_app: QueueTasks | AsyncQueueTasks,
) -> AsyncIterator[AsyncTestCase]:
    """``qtasks_app`` on in-memory components, in an open AsyncTestCase."""
    async with AsyncTestCase(qtasks_app) as case:
        yield case
