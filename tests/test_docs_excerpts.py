"""Every Python sample in docs/ is an excerpt of a file the page links to, and every page
with a sample links one: what the docs show is what the test suite runs.

A sample is presented as runnable when the text just before it (since the previous heading
or sample) links a file of the repository; it must then be an excerpt of that file. Other
samples (the shape of a configuration, say) must at least be valid Python. An excerpt keeps
the file's code lines in the file's order; it may leave lines out, and mark a cut with a line
``...`` or a header ending ``: ...`` (a body left out). Indentation, blank lines and comments
are not compared: a method may be shown dedented, and the page may comment differently.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\((\.\./[^)#\s]+)\)")
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
BOUNDARY = re.compile(r"^(#+ |```)", re.MULTILINE)
COMMENT = re.compile(r"\s+#\s.*$")


class Sample:
    def __init__(self, page: Path, line: int, code: str, lead_in: str) -> None:
        self.page, self.line, self.lines = page, line, code.splitlines()
        self.code = code
        self.sources = linked_files(page, lead_in)


def samples(page: Path) -> list[Sample]:
    text = page.read_text()
    found = []
    for match in BLOCK.finditer(text):
        before = text[: match.start()]
        boundaries = [m.end() for m in BOUNDARY.finditer(before)]
        lead_in = before[boundaries[-1] :] if boundaries else before
        found.append(Sample(page, before.count("\n") + 1, match.group(1), lead_in))
    return found


def linked_files(page: Path, text: str) -> list[Path]:
    found = []
    for target in LINK.findall(text):
        path = (page.parent / target).resolve()
        if path.is_file() and path.suffix == ".py":
            found.append(path)
    return found


def missing_lines(sample: list[str], source: list[str]) -> list[str]:
    """The sample's lines not found, in order, in ``source`` (empty: it is an excerpt)."""
    lines = [COMMENT.sub("", s).strip() for s in source]
    position = 0
    missing = []
    for raw in sample:
        line = COMMENT.sub("", raw).strip()
        if not line or line == "..." or line.startswith("#"):
            continue
        wanted = [line]
        if line.endswith(": ..."):
            wanted.append(line[: -len(" ...")])  # a header whose body is left out
        for index in range(position, len(lines)):
            if lines[index] in wanted:
                position = index + 1
                break
        else:
            missing.append(raw)
    return missing


def all_samples() -> list[Sample]:
    return [sample for page in sorted(DOCS.glob("*.md")) for sample in samples(page)]


def runnable_samples() -> list[Sample]:
    return [sample for sample in all_samples() if sample.sources]


def sample_id(sample: Sample) -> str:
    return f"{sample.page.name}:{sample.line}"


@pytest.mark.parametrize("sample", runnable_samples(), ids=sample_id)
def test_runnable_samples_are_excerpts_of_the_linked_file(sample: Sample) -> None:
    misses = {f: missing_lines(sample.lines, f.read_text().splitlines()) for f in sample.sources}
    source, missing = min(misses.items(), key=lambda item: len(item[1]))
    assert missing == [], f"not in {source.relative_to(ROOT)} (in this order)"


@pytest.mark.parametrize("sample", all_samples(), ids=sample_id)
def test_every_sample_is_valid_python(sample: Sample) -> None:
    ast.parse(textwrap.dedent(sample.code))


@pytest.mark.parametrize(
    "page", ["tasks.md", "results.md", "serialization.md", "errors.md", "components.md"]
)
def test_these_pages_show_only_runnable_samples(page: str) -> None:
    shown = samples(DOCS / page)
    assert shown, f"{page} has no sample"
    assert [s.line for s in shown if not s.sources] == []


def test_the_checker_tells_an_excerpt_from_an_invention() -> None:
    source = ["def add(a, b):", "    return a + b", "", "print(add(1, 2))"]
    assert missing_lines(["def add(a, b): ...", "print(add(1, 2))"], source) == []
    assert missing_lines(["print(add(1, 2))", "def add(a, b):"], source) == ["def add(a, b):"]
    assert missing_lines(["print(add(2, 2))"], source) == ["print(add(2, 2))"]
