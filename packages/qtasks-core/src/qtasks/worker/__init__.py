"""The default worker: fetch loop, priority dispatch, concurrency limit, batched settling."""

from qtasks.worker.worker import QueueWorker

__all__ = ["QueueWorker"]
