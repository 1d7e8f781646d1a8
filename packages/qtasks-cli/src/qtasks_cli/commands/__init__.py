"""The built-in subcommands of ``qtasks``."""

from qtasks_cli.commands.queues import inspect, purge, queues, requeue_dead
from qtasks_cli.commands.run import run
from qtasks_cli.commands.tasks import add, status, tasks

__all__ = ["add", "inspect", "purge", "queues", "requeue_dead", "run", "status", "tasks"]
