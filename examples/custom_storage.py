"""A custom component: task records kept in a SQLite file, wired into an app by hand.

Run it with `python examples/custom_storage.py`; no server needed. `SqliteStorage` subclasses
`qtasks.interfaces.Storage` with the standard library's `sqlite3`, each call run in a worker
thread so the event loop never blocks on the disk. tests/test_custom_storage.py runs core's
`StorageConformance` suite against it.

Its limit, said plainly: `wait` is woken by writes made in this process (any instance on the
same file). A worker in another process writing to the file would not wake it; storages
shared between processes need a server that can notify, such as Redis.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import ClassVar, TypeVar

import anyio
import anyio.to_thread

from qtasks.asyncio import QueueTasks
from qtasks.interfaces import Storage
from qtasks.memory import MemoryBroker
from qtasks.task import FINAL_STATUSES, Task, TaskStatus
from qtasks.worker import QueueWorker

SCHEMA = """
CREATE TABLE IF NOT EXISTS qtasks_records (
    namespace  TEXT NOT NULL,
    uuid       TEXT NOT NULL,
    status     TEXT NOT NULL,
    data       BLOB NOT NULL,
    expires_at REAL,
    PRIMARY KEY (namespace, uuid)
)
"""
T = TypeVar("T")

#: SQLite's default limit of bound parameters is 999 on older builds: read in chunks.
CHUNK = 500


class SqliteStorage(Storage):
    """Records in one table, keyed by (app namespace, uuid), encoded with the app's serializer."""

    #: Waiters per database file, shared by every instance of this process on that file.
    _waiters: ClassVar[dict[Path, dict[str, list[anyio.Event]]]] = {}

    def __init__(self, path: str | Path, *, result_ttl: float | None = 24 * 3600.0) -> None:
        super().__init__(result_ttl=result_ttl)
        self.path = Path(path).resolve()
        self._db: sqlite3.Connection | None = None
        self._one_at_a_time = anyio.CapacityLimiter(1)  # one connection, one thread at a time

    async def start(self) -> None:
        if self._db is None:
            self._db = await anyio.to_thread.run_sync(self._connect)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")  # readers never wait for a writer
        db.execute(SCHEMA)
        return db

    async def stop(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await anyio.to_thread.run_sync(db.close, limiter=self._one_at_a_time)

    async def save(
        self, tasks: Sequence[Task], *, only_if: Collection[TaskStatus] | None = None
    ) -> list[bool]:
        rows = [(t.uuid, t.status.value, self.encode_task(t), self._expiry(t)) for t in tasks]
        allowed = None if only_if is None else {s.value for s in only_if}
        written = await self._run(self._save, rows, allowed)
        for task, done in zip(tasks, written, strict=True):
            if done and task.status in FINAL_STATUSES:
                for event in self._waiters.get(self.path, {}).pop(task.uuid, []):
                    event.set()
        return written

    def _expiry(self, task: Task) -> float | None:
        if task.status in FINAL_STATUSES and self.result_ttl is not None:
            return time.time() + self.result_ttl
        return None

    def _save(
        self,
        db: sqlite3.Connection,
        rows: list[tuple[str, str, bytes, float | None]],
        allowed: set[str] | None,
    ) -> list[bool]:
        written = []
        db.execute("BEGIN IMMEDIATE")  # the status check and the write are one transaction
        try:
            for uuid, status, data, expires_at in rows:
                if allowed is not None:
                    stored = db.execute(
                        "SELECT status FROM qtasks_records WHERE namespace = ? AND uuid = ? "
                        "AND (expires_at IS NULL OR expires_at > ?)",
                        (self.namespace, uuid, time.time()),
                    ).fetchone()
                    if stored is not None and stored[0] not in allowed:
                        written.append(False)
                        continue
                db.execute(
                    "INSERT OR REPLACE INTO qtasks_records VALUES (?, ?, ?, ?, ?)",
                    (self.namespace, uuid, status, data, expires_at),
                )
                written.append(True)
            db.execute("DELETE FROM qtasks_records WHERE expires_at <= ?", (time.time(),))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return written

    async def get_many(self, uuids: Sequence[str]) -> list[Task | None]:
        found = await self._run(self._load, list(uuids))
        return [None if uuid not in found else self.decode_task(found[uuid]) for uuid in uuids]

    def _load(self, db: sqlite3.Connection, uuids: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for start in range(0, len(uuids), CHUNK):
            chunk = uuids[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT uuid, data FROM qtasks_records WHERE namespace = ? "
                f"AND uuid IN ({marks}) AND (expires_at IS NULL OR expires_at > ?)"
            )
            found.update(db.execute(query, (self.namespace, *chunk, time.time())).fetchall())
        return found

    async def wait(self, uuid: str, timeout: float | None) -> Task | None:
        # Register first, then look: a write landing in between still sets the event.
        event = anyio.Event()
        waiting = self._waiters.setdefault(self.path, {}).setdefault(uuid, [])
        waiting.append(event)
        try:
            record = await self.get(uuid)
            if record is not None and record.is_finished:
                return record
            with anyio.move_on_after(timeout):
                await event.wait()
        finally:
            if event in waiting:
                waiting.remove(event)
            if not waiting:
                self._waiters.get(self.path, {}).pop(uuid, None)
        record = await self.get(uuid)
        return record if record is not None and record.is_finished else None

    async def delete(self, uuids: Sequence[str]) -> int:
        return await self._run(self._delete, list(uuids))

    def _delete(self, db: sqlite3.Connection, uuids: list[str]) -> int:
        removed = 0
        for uuid in uuids:
            cursor = db.execute(
                "DELETE FROM qtasks_records WHERE namespace = ? AND uuid = ? "
                "AND (expires_at IS NULL OR expires_at > ?)",
                (self.namespace, uuid, time.time()),
            )
            removed += cursor.rowcount
        return removed

    async def _run(self, func: Callable[..., T], *args: object) -> T:
        """Run ``func(connection, *args)`` in a worker thread, starting lazily if needed."""
        await self.start()
        return await anyio.to_thread.run_sync(func, self._db, *args, limiter=self._one_at_a_time)


async def main(folder: Path) -> None:
    database = folder / "records.db"
    app = QueueTasks(
        "orders",
        broker=MemoryBroker(),
        storage=SqliteStorage(database),
        worker=QueueWorker(concurrency=4),
    )

    @app.task
    async def total(prices: list[float]) -> float:
        return round(sum(prices), 2)

    async with app.running():
        done = await app.add_task("total", [9.99, 5.01, 0.5], timeout=10)
    print(done.status, done.returning, "stored in", database.name)
    await app.stop()

    # A new app on the same file finds the record: it outlived the first app.
    later = QueueTasks("orders", storage=SqliteStorage(database))
    again = await later.get(done.uuid)
    assert again is not None
    print("read back by another app:", again.task_name, again.status, again.returning)
    await later.stop()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="qtasks-sqlite-") as folder:
        anyio.run(main, Path(folder))
