"""The app's management calls: cancelling tasks and requeueing dead letters.

A mixin of the async ``QueueTasks``, kept in its own file so each file holds one role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtasks.task import QUEUED_STATUSES, Task, TaskStatus, utcnow

if TYPE_CHECKING:
    from qtasks.interfaces.broker import Broker
    from qtasks.interfaces.global_config import GlobalConfig
    from qtasks.interfaces.storage import Storage
    from qtasks.plugins import Plugins

__all__ = ["Managing"]

#: Dead letters moved per round trip by ``requeue_dead``.
_REQUEUE_BATCH = 500


class Managing:
    """``cancel`` and ``requeue_dead`` of the async app."""

    if TYPE_CHECKING:
        broker: Broker
        storage: Storage
        global_config: GlobalConfig
        plugins: Plugins

        @property
        def control_channel(self) -> str: ...

        async def start(self) -> None: ...

    async def requeue_dead(self, queue: str | None = None, limit: int | None = None) -> int:
        """Send dead-lettered tasks (oldest first) back to their queues, to run again.

        A dead-lettered task was stored as an error, and a worker never reruns a finished
        task; so each one's record goes back to status new before its message is requeued.
        Returns how many messages moved.
        """
        await self.start()
        moved = 0
        while limit is None or moved < limit:
            batch = _REQUEUE_BATCH if limit is None else min(_REQUEUE_BATCH, limit - moved)
            dead = await self.broker.dead_letters(queue, batch)
            uuids = [d.uuid for d in dead if d.uuid]
            if uuids:
                now = utcnow()
                failed = [
                    r
                    for r in await self.storage.get_many(uuids)
                    if r is not None and r.status is TaskStatus.ERROR
                ]
                reset = [
                    r.copy(
                        status=TaskStatus.NEW,
                        error=None,
                        traceback=None,
                        started_at=None,
                        finished_at=None,
                        updated_at=now,
                    )
                    for r in failed
                ]
                await self.storage.save(reset, only_if={TaskStatus.ERROR})
            count = await self.broker.requeue_dead(queue, batch)
            moved += count
            if count < batch:
                break
        return moved

    async def cancel(self, uuid: str, reason: str = "") -> bool:
        """Cancel a task; ``True`` if it was still queued or running.

        A queued task is removed (or, where the broker cannot remove it, marked so that no
        worker runs it); a running async task is interrupted. Either way it ends as status
        cancel with ``reason`` stored in ``cancel_reason``.
        """
        await self.start()
        record = await self.storage.get(uuid)
        if record is None or record.is_finished:
            return False
        now = utcnow()
        cancelled = record.copy(
            status=TaskStatus.CANCEL, cancel_reason=reason, finished_at=now, updated_at=now
        )
        if self.plugins.before_storage_save:
            cancelled = await self.plugins.replace_value(
                self.plugins.before_storage_save, cancelled, expect=Task
            )
        if await self.broker.cancel(uuid, record.queue):
            await self.storage.save([cancelled])
            await self._cancelled_unstarted(cancelled)
            return True
        (written,) = await self.storage.save([cancelled], only_if=QUEUED_STATUSES)
        # "settled": the record already says cancel, so a worker that fetched the task only
        # drops its copy; otherwise the worker holding it cancels it and stores the outcome.
        await self.global_config.publish(
            self.control_channel,
            {"op": "cancel", "uuid": uuid, "reason": reason, "settled": written},
        )
        if written:
            await self._cancelled_unstarted(cancelled)
            return True
        latest = await self.storage.get(uuid)
        return latest is not None and not latest.is_finished

    async def _cancelled_unstarted(self, record: Task) -> None:
        if self.plugins.after_cancel:
            await self.plugins.notify(self.plugins.after_cancel, record)
