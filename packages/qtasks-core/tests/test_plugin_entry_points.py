from __future__ import annotations

import logging
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qtasks import ConfigurationError
from qtasks.asyncio import QueueTasks
from qtasks.plugins import _entry_points


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A distribution declaring three ``qtasks.plugins`` entry points, on sys.path."""
    module = f"fake_qtasks_plugin_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from qtasks import Plugin

            class Audit(Plugin):
                name = "audit"

            class Named(Plugin):
                def __init__(self, app):
                    self.app_name = app.name

            def factory(app):
                return Named(app)

            def broken(app):
                raise RuntimeError("cannot build")
            """
        )
    )
    info = tmp_path / "fake_qtasks_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-qtasks-plugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        f"[qtasks.plugins]\naudit = {module}:Audit\nnamed = {module}:factory\n"
        f"broken = {module}:broken\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(_entry_points.DISABLE_ENV, raising=False)
    _entry_points.forget()
    yield module
    _entry_points.forget()
    sys.modules.pop(module, None)


def names(app: QueueTasks) -> list[str]:
    return [p.plugin_name for p in app.plugins]


def test_installed_plugins_load_automatically_after_the_built_ins(
    installed: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="qtasks.plugins"):
        app = QueueTasks("ep")
    assert names(app) == ["RetryPlugin", "depends", "audit", "Named"]
    assert app.plugins.get(type(list(app.plugins)[3])).app_name == "ep"  # type: ignore[union-attr]
    assert "could not load plugin entry point broken" in caplog.text


def test_autoload_can_be_switched_off_or_narrowed(
    installed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert names(QueueTasks("ep", entry_point_plugins=False)) == ["RetryPlugin", "depends"]
    assert names(QueueTasks("ep", entry_point_plugins=["named"])) == [
        "RetryPlugin",
        "depends",
        "Named",
    ]
    monkeypatch.setenv(_entry_points.DISABLE_ENV, "1")
    assert names(QueueTasks("ep")) == ["RetryPlugin", "depends"]
    # An explicit choice still loads while autoloading is disabled.
    assert names(QueueTasks("ep", entry_point_plugins=["audit"]))[-1] == "audit"
    assert names(QueueTasks("ep", entry_point_plugins=True))[-2:] == ["audit", "Named"]
    with pytest.raises(ConfigurationError, match="no 'qtasks.plugins' entry point named 'nope'"):
        QueueTasks("ep", entry_point_plugins=["nope"])
