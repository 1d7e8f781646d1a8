"""examples/custom_storage.py's SqliteStorage passes the same suite as every real storage."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from qtasks.interfaces import Storage
from qtasks.testing.conformance import StorageConformance, StorageFactory

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "custom_storage.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("custom_storage_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and typing look modules up by name
    spec.loader.exec_module(module)
    return module


example = load_example()


class TestSqliteStorage(StorageConformance):
    @pytest.fixture
    def storage_factory(self, tmp_path: Path) -> StorageFactory:
        database = tmp_path / "records.db"
        return lambda: example.SqliteStorage(database)


@pytest.mark.anyio
async def test_records_outlive_the_instance_that_wrote_them(tmp_path: Path) -> None:
    from qtasks.task import Task, TaskStatus

    first: Storage = example.SqliteStorage(tmp_path / "db.sqlite")
    first.bind("persist", first.serializer)
    await first.save([Task(uuid="u1", task_name="t", status=TaskStatus.SUCCESS, returning=3)])
    await first.stop()
    second: Storage = example.SqliteStorage(tmp_path / "db.sqlite")
    second.bind("persist", second.serializer)
    other_app: Storage = example.SqliteStorage(tmp_path / "db.sqlite")
    other_app.bind("another-app", other_app.serializer)
    try:
        loaded = await second.get("u1")
        assert loaded is not None and loaded.returning == 3
        assert await other_app.get("u1") is None  # namespaces keep apps apart
    finally:
        await second.stop()
        await other_app.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
