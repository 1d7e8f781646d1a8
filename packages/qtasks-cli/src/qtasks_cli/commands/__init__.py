"""The built-in subcommands of ``qtasks``."""

from qtasks_cli.commands.admin import inspect, purge, queues, requeue_dead
from qtasks_cli.commands.records import add, status, tasks
from qtasks_cli.commands.worker import run

__all__ = ["add", "inspect", "purge", "queues", "requeue_dead", "run", "status", "tasks"]
