"""The app the CLI walkthrough drives (examples/cli_walkthrough.py).

Its broker comes from QTASKS_BROKER (default: the in-memory one, which only this process
sees: fine for `qtasks tasks`, useless for a worker fed by other processes).
"""

# qtasks-example: module
from __future__ import annotations

import os

import anyio

from qtasks import QueueTasks

app = QueueTasks(
    os.environ.get("QTASKS_EXAMPLE_APP", "cli-example"), broker=os.environ.get("QTASKS_BROKER")
)


@app.task(retry=2, description="Add two numbers.")
def add(a: int, b: int) -> int:
    return a + b


@app.task(queue="mail", priority=-1)
async def send_email(to: str, subject: str = "hello") -> str:
    """Pretend to send an email."""
    await anyio.sleep(0.1)
    return f"sent {subject!r} to {to}"


@app.task
def divide(a: float, b: float) -> float:
    return a / b
