"""``python -m benchmarks._worker NAME``: run system NAME's worker here until SIGTERM.

For libraries whose worker is started from Python rather than their own command line (arq,
SAQ, Celery through ``worker_main``, QTasks). Logging is at WARNING, as for every worker.
"""

from __future__ import annotations

import logging
import sys

from .systems import Environment, get
from .systems._redis import RedisSystem


def main(argv: list[str]) -> None:
    """Serve the named system's worker."""
    if len(argv) != 1:
        sys.exit("usage: python -m benchmarks._worker SYSTEM")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    system = get(argv[0])(Environment.current())
    if not isinstance(system, RedisSystem):
        sys.exit(f"{argv[0]} has no worker process")
    system.serve()


if __name__ == "__main__":
    main(sys.argv[1:])
