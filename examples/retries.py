"""Retries with exponential backoff, retrying only some exceptions, and time limits.

Run it with `python examples/retries.py`; no server needed.
"""

from __future__ import annotations

import anyio

from qtasks import Retry
from qtasks.asyncio import QueueTasks

app = QueueTasks("retry-demo")
calls: dict[str, int] = {}


@app.task(retry=3, retry_on_exc=(ConnectionError,), retry_backoff=0.05)
async def unreliable_api(name: str) -> str:
    """Retried on ConnectionError only, after about 0.05 s, 0.1 s, 0.2 s (with jitter)."""
    calls[name] = calls.get(name, 0) + 1
    if calls[name] < 3:
        raise ConnectionError(f"{name}: connection reset (call {calls[name]})")
    return f"{name} answered on call {calls[name]}"


@app.task(retry=2)
async def rate_limited() -> str:
    """The task decides the delay itself by raising Retry."""
    calls["rate"] = calls.get("rate", 0) + 1
    if calls["rate"] == 1:
        raise Retry("HTTP 429, try again shortly", delay=0.05)
    return "accepted"


@app.task(max_time=0.2)
async def too_slow() -> None:
    await anyio.sleep(10)  # cancelled at 0.2 s


async def main() -> None:
    async with app.running():
        ok = await app.add_task("unreliable_api", "billing", timeout=10)
        print(ok.status, ok.returning, f"retries={ok.retries}")
        for attempt in ok.attempts:
            print(f"  attempt {attempt.number}: {attempt.status} {attempt.error or ''}")
        polite = await app.add_task("rate_limited", timeout=10)
        print(polite.status, polite.returning, f"retries={polite.retries}")
        slow = await app.add_task("too_slow", timeout=10)
        print(slow.status, slow.error)


if __name__ == "__main__":
    anyio.run(main)
