"""`python main.py` style: a script that is its own worker until SIGINT or SIGTERM.

Run it with `python examples/worker_main.py`, then press Ctrl+C once to drain and stop
(twice to stop at once). No server needed: producers in this process feed it.
"""

# qtasks-example: serve
from __future__ import annotations

import logging

from qtasks import QueueTasks

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
app = QueueTasks("main-demo")


@app.task
def greet(name: str) -> str:
    print(f"hello, {name}", flush=True)
    return f"greeted {name}"


if __name__ == "__main__":
    for name in ("Ada", "Grace", "Linus"):
        app.add_task("greet", name)
    app.run_forever(concurrency=4)
    print("stopped cleanly", flush=True)
