"""Turning per-repetition results into the medians, the table and RESULTS.md."""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["COLUMNS", "markdown", "medians", "spread_table", "table"]

#: (heading, phase, field) for each column of the table.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("W1 enq/s", "w1", "per_s"),
    ("W1 bulk enq/s", "w1_bulk", "per_s"),
    ("W2 drain/s", "w2", "drain_per_s"),
    ("W2 steady/s", "w2", "steady_per_s"),
    ("W2 startup s", "w2", "startup_s"),
    ("W3 native p50 ms", "w3_native", "p50_ms"),
    ("W3 native p99 ms", "w3_native", "p99_ms"),
    ("W3 blpop p50 ms", "w3_blpop", "p50_ms"),
    ("W3 blpop p99 ms", "w3_blpop", "p99_ms"),
    ("W4 sleep/s", "w4", "per_s"),
)

_ROUNDTRIP_PHASES = ("w3_native", "w3_blpop")


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def medians(reps: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per phase and field, the median over the repetitions that measured it."""
    values: dict[str, dict[str, list[float]]] = {}
    for rep in reps:
        for phase, data in rep.get("phases", {}).items():
            for name, value in data.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    values.setdefault(phase, {}).setdefault(name, []).append(float(value))
    return {
        phase: {name: statistics.median(vals) for name, vals in fields.items()}
        for phase, fields in values.items()
    }


def _cell(system: Mapping[str, Any], phase: str, field: str) -> str:
    if system.get("not_installed"):
        return "not installed"
    if system.get("unavailable"):
        return "no server"
    supported = system["supports"]
    if phase == "w1_bulk" and not supported["bulk"]:
        return "n/a"
    if phase == "w3_blpop" and not supported["probe"]:
        return "n/a"
    value = system["median"].get(phase, {}).get(field)
    if value is None:
        failed = any(phase in rep.get("errors", {}) for rep in system["reps"])
        return "error" if failed or system["reps"] else "n/a"
    text = _number(value)
    # Say when a phase stopped at its time budget: on how many tasks the figure rests.
    done, wanted = ("count", "requested") if phase in _ROUNDTRIP_PHASES else ("done", "tasks")
    runs = [rep["phases"][phase] for rep in system["reps"] if phase in rep["phases"]]
    short = [run[done] for run in runs if done in run and run[done] < run.get(wanted, 0)]
    if short and field != "startup_s":
        text += f" (n={min(short):,})"
    return text


def table(systems: Mapping[str, Mapping[str, Any]]) -> str:
    """One Markdown table: a row per system, the medians of every column."""
    lines = [
        "| system | " + " | ".join(c[0] for c in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for name, system in systems.items():
        cells = [_cell(system, phase, field) for _, phase, field in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spread_table(systems: Mapping[str, Mapping[str, Any]]) -> str:
    """Per-repetition values of the throughput columns (how much runs differ)."""
    picked = (
        ("W1 enq/s", "w1", "per_s"),
        ("W2 drain/s", "w2", "drain_per_s"),
        ("W4 sleep/s", "w4", "per_s"),
    )
    lines = ["| system | " + " | ".join(p[0] for p in picked) + " |", "|---|---|---|---|"]
    for name, system in systems.items():
        if system.get("not_installed") or system.get("unavailable"):
            continue
        cells = []
        for _, phase, field in picked:
            vals = [rep["phases"].get(phase, {}).get(field) for rep in system["reps"]]
            cells.append(" / ".join("-" if v is None else f"{v:,.0f}" for v in vals))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _redis_line(redis: Mapping[str, Any] | None) -> str:
    if not redis:
        return "no Redis."
    where = "a private redis-server started for the run" if redis["private"] else redis["url"]
    return f"Redis {redis['version']} ({where})."


def _servers_line(servers: Mapping[str, Mapping[str, Any]]) -> str:
    """Redis first (every row but the in-memory ones uses it), then the others' summaries."""
    line = _redis_line(servers.get("redis"))
    others = [info["summary"] for kind, info in sorted(servers.items()) if kind != "redis"]
    return " ".join([line, *(f"{text}." for text in others)])


def markdown(report: Mapping[str, Any]) -> str:
    """RESULTS.md: the table, how it was measured, and what failed."""
    meta = report["machine"]
    sizes = report["sizes"]
    out = [
        f"# Benchmark results, {report['date']}",
        "",
        "Command: `python -m benchmarks.run"
        + (" " + " ".join(report["argv"]) if report["argv"] else "")
        + "` (what `python -m nox -s bench` runs); see "
        "[docs/benchmarks.md](../docs/benchmarks.md) for what each column means. Figures from "
        "a shared machine: compare systems within this run, not with other runs.",
        "",
        f"Machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}; "
        + _servers_line(report.get("servers", {}))
        + " "
        f"Load average (1/5/15 min) before: {meta['load_before']}, after: {meta['load_after']}. "
        f"Run took {report['duration_s']:.0f} s, {report['repeat']} repetition(s); "
        "the table shows medians.",
        "",
        f"Sizes: W1/W2 {sizes['tasks']:,} tasks, W3 {sizes['roundtrips']} round trips per mode "
        f"(after {sizes['warmup']} warm-ups, at most {sizes['roundtrip_budget']:.0f} s per mode), "
        f"W4 {sizes['sleep_tasks']:,} tasks of {sizes['sleep_seconds'] * 1000:.0f} ms, "
        f"bulk chunks of {sizes['bulk_chunk']:,}.",
        "",
        table(report["systems"]),
        "",
    ]
    if report["repeat"] > 1:
        out += ["Per repetition:", "", spread_table(report["systems"]), ""]
    out += ["Settings:", ""]
    out += [f"- `{name}`: {s['summary']}" for name, s in report["systems"].items()]
    out += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), ""]
    origins = report.get("origins", {})
    if origins:
        out += ["QTasks from: " + "; ".join(f"{k} {v}" for k, v in origins.items()), ""]
    problems = [
        f"- `{name}` rep {i + 1} {phase}: {message.splitlines()[0]}"
        for name, s in report["systems"].items()
        for i, rep in enumerate(s["reps"])
        for phase, message in rep.get("errors", {}).items()
    ]
    counters = [
        f"- `{name}` rep {i + 1}: "
        + ", ".join(f"{k} {v}" for k, v in rep.get("counters", {}).items())
        for name, s in report["systems"].items()
        for i, rep in enumerate(s["reps"])
        if rep.get("counters")
    ]
    skipped = [
        f"- `{name}`: {s['unavailable']}"
        for name, s in report["systems"].items()
        if s.get("unavailable")
    ]
    if problems:
        out += ["Failures:", "", *problems, ""]
    if skipped:
        out += ["Not run (no server):", "", *skipped, ""]
    if counters:
        out += ["Counted events (library workarounds, duplicate executions):", "", *counters, ""]
    loads = [
        f"{name} {rep['load_before'][0]}"
        for name, s in report["systems"].items()
        for rep in s["reps"][:1]
        if rep.get("load_before")
    ]
    if loads:
        out += ["Load average (1 min) as each system started: " + ", ".join(loads) + ".", ""]
    return "\n".join(out)


def main(argv: list[str]) -> None:
    """``python -m benchmarks._report RESULTS.json``: print its RESULTS.md again."""
    if len(argv) != 1:
        raise SystemExit("usage: python -m benchmarks._report RESULTS.json")
    print(markdown(json.loads(Path(argv[0]).read_text())), end="")


if __name__ == "__main__":
    main(sys.argv[1:])
