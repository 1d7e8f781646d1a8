"""Running one attempt of a task: calling the function, timing it out, deciding on retries."""

from qtasks.executor.default import DefaultExecutor
from qtasks.executor.retry import backoff_delay, retry_decision

__all__ = ["DefaultExecutor", "backoff_delay", "retry_decision"]
