"""Eager mode: run a queued task here and now, through the same attempt code a worker uses.

Hooks, middlewares, Depends, State and the executor all behave as under a worker; the task's
record is stored the same way. Two things differ on purpose: a retry runs at once (its delay
is skipped, so a test never waits out a backoff), and a message that cannot run (unknown
task, undecodable bytes) raises in the test instead of being dead-lettered. The record
returned is read back from storage, exactly what a client waiting on a real worker gets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtasks.context import CURRENT_TASK
from qtasks.interfaces.broker import Delivery, OutgoingMessage
from qtasks.message import TaskMessage
from qtasks.task import STARTABLE_STATUSES, Task, TaskStatus, utcnow
from qtasks.worker import QueueWorker
from qtasks.worker._attempt import (
    build_call,
    conclude_attempt,
    execute_attempt,
    executor_failure,
)

if TYPE_CHECKING:
    from qtasks.asyncio import QueueTasks

__all__ = ["EagerRunner"]


class EagerRunner:
    """Runs messages one at a time on behalf of a test case.

    ``worker`` stands for the worker these runs belong to: worker-scoped dependencies and
    States live on it, and plugins hear ``on_worker_start`` before the first run and
    ``on_worker_stop`` when the case closes.
    """

    def __init__(self, app: QueueTasks) -> None:
        self.app = app
        self.worker = QueueWorker(concurrency=1, name="eager")
        self.started = False

    async def run(self, message: OutgoingMessage) -> Task:
        """Run ``message`` and its retries; return the final record."""
        app = self.app
        plugins = app.plugins
        if not self.started:
            self.started = True
            if plugins.on_worker_start:
                await plugins.notify(plugins.on_worker_start, self.worker)
        while True:
            delivery = Delivery(message.body, message.queue, None, uuid=message.uuid)
            if plugins.on_broker_receive:
                delivery = await plugins.replace_value(
                    plugins.on_broker_receive, delivery, expect=Delivery
                )
            task_message = TaskMessage.decode(delivery.body, app.serializer)
            definition = app.registry.require(task_message.task_name)
            record = task_message.record(TaskStatus.PROCESS, retries=task_message.attempt - 1)
            record.started_at = record.updated_at = utcnow()
            if plugins.before_storage_save:
                record = await plugins.replace_value(
                    plugins.before_storage_save, record, expect=Task
                )
            (allowed,) = await app.storage.save([record], only_if=STARTABLE_STATUSES)
            if not allowed:  # cancelled or finished meanwhile, as a worker would skip it
                final = await app.storage.get(task_message.uuid)
                assert final is not None
                return final.with_waiter(app)
            hooks = plugins.for_task(definition)
            call = build_call(
                app, definition, task_message, record, worker=self.worker, limiter=None, hooks=hooks
            )
            running = CURRENT_TASK.set(task_message.uuid)
            try:
                outcome = await execute_attempt(app, call, hooks)
            except Exception as exc:
                outcome = executor_failure(app, call, exc)
            finally:
                CURRENT_TASK.reset(running)
            record, outcome, send = await conclude_attempt(app, call, outcome, hooks)
            await app.storage.save([record])
            if send is None:
                # What storage gives back, as a waiting client would see it (tuples become
                # lists under JSON, say), not the object the task produced.
                stored = await app.storage.get(task_message.uuid)
                return (stored or record).with_waiter(app)
            message = send

    async def close(self) -> None:
        """End the stand-in worker's life (its scope is torn down)."""
        if self.started:
            self.started = False
            plugins = self.app.plugins
            if plugins.on_worker_stop:
                await plugins.notify(plugins.on_worker_stop, self.worker)
