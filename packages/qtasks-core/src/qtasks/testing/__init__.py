"""Testing tools shipped with QTasks.

``AsyncTestCase`` and ``SyncTestCase`` run an app on fresh in-memory components, with eager
execution, an in-process worker and assertions; they need nothing beyond QTasks itself and
work from pytest, unittest, pytest-asyncio and anyio's pytest plugin. The pytest plugin
(``qtasks.testing.pytest_plugin``, loaded automatically) adds fixtures. The conformance
suites (``qtasks.testing.conformance``) and server fixtures (``qtasks.testing.servers``)
need pytest (``pip install qtasks-core[test]``).
"""

from qtasks.testing.case import AsyncTestCase, SyncTestCase

__all__ = ["AsyncTestCase", "SyncTestCase"]
