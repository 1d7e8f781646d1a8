"""Every example under examples/ runs to completion, each in its own interpreter.

An example that needs a server says so on its first line, e.g. ``# needs: redis``; those are
skipped here (the integration suite covers the servers).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.py"))
NEEDS = re.compile(r"^#\s*needs:\s*(?P<what>.+)$")
TIMEOUT = 60


def needs(path: Path) -> str | None:
    """The servers an example declares on its first line, or None."""
    with path.open(encoding="utf-8") as handle:
        first = handle.readline().strip()
    match = NEEDS.match(first)
    return match.group("what").strip() if match else None


def test_examples_are_found() -> None:
    assert EXAMPLES, "examples/ holds no example files"


@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT)) for p in EXAMPLES])
def test_example_runs(path: Path) -> None:
    required = needs(path)
    if required:
        pytest.skip(f"{path.name} needs {required}")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )
    assert result.returncode == 0, (
        f"{path.name} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
