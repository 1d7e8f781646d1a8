"""Generator tasks: each yielded value goes through a handler whose answer is sent back.

Run it with `python examples/generators.py`; no server needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator

import anyio

from qtasks.asyncio import QueueTasks

app = QueueTasks("generator-demo")


def review(step: str) -> str:
    """The generate_handler: sees every yielded value; its return value is sent back in."""
    print(f"  handler saw {step!r}")
    return step.upper()


@app.task(generate_handler=review)
def pipeline(name: str) -> Generator[str, str, str]:
    first = yield f"load {name}"  # first == "LOAD <NAME>"
    second = yield f"clean after {first}"
    return f"{name}: done ({second})"


@app.task
async def countdown(n: int) -> AsyncIterator[int]:
    for i in range(n, 0, -1):
        await anyio.sleep(0.05)
        yield i  # readable while the task runs, through Task.progress


async def main() -> None:
    async with app.running():
        done = await app.add_task("pipeline", "orders", timeout=5)
        print("result:", done.returning)
        print("progress:", done.progress)
        running = await app.add_task("countdown", 4)
        await anyio.sleep(0.12)
        snapshot = await app.get(running.uuid)
        print("while running:", snapshot.progress if snapshot else None)
        final = await running.wait_result_async(5)
        print("async generator result:", final.returning)


if __name__ == "__main__":
    anyio.run(main)
