"""``python -m benchmarks._client CONFIG``: every workload against one system, in a fresh process.

The driver starts one of these per system and repetition, so no two libraries share an
interpreter (imports, event loop policies, global brokers) and a crash costs one row only.
CONFIG is a JSON file naming the system, the sizes and where to write the result.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from ._harness import Sizes, run_system
from .systems import Environment, get


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM from the driver (a timed-out run) unwinds like Ctrl-C, so the worker is stopped.
    raise KeyboardInterrupt


def main(argv: list[str]) -> None:
    """Run the configured system and write its result JSON."""
    if len(argv) != 1:
        sys.exit("usage: python -m benchmarks._client CONFIG.json")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _interrupt)
    config = json.loads(Path(argv[0]).read_text())
    system = get(config["system"])(Environment.current())
    result = asyncio.run(run_system(system, Sizes(**config["sizes"])))
    Path(config["result"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
