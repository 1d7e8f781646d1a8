"""Direct reply-to across real processes: results come back without any storage."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from qtasks import QueueTasks
from qtasks.task import TaskStatus

pytestmark = pytest.mark.integration


def test_round_trip_and_a_clear_error_elsewhere(amqp_url: str, app_name: str, spawn_worker) -> None:
    spawn_worker(app_name, concurrency=4)
    with QueueTasks(app_name, broker=amqp_url) as producer:
        done = producer.add_task("add", 20, 22, timeout=30)
        assert (done.status, done.returning) == (TaskStatus.SUCCESS, 42)
        batch = producer.add_tasks("add", [(i, i) for i in range(20)])
        assert [t.wait_result(timeout=30).returning for t in batch] == [2 * i for i in range(20)]
        assert producer.get(done.uuid) == done  # the producer keeps its own records

    other = textwrap.dedent(
        f"""
        from qtasks import QueueTasks
        from qtasks_rabbitmq import SharedStorageRequiredError
        app = QueueTasks({app_name!r}, broker={amqp_url!r})
        try:
            app.get({done.uuid!r})
        except SharedStorageRequiredError as exc:
            print("refused:", exc)
        finally:
            app.close()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", other], capture_output=True, text=True, timeout=60, check=True
    )
    assert "refused:" in result.stdout
    assert "needs a shared storage" in result.stdout
    assert "storage='redis://" in result.stdout
