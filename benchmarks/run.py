"""Run the benchmarks: ``python -m nox -s bench [-- OPTIONS]`` (or ``python -m benchmarks.run``).

Every selected system runs every workload in its own client process (``benchmarks._client``),
with its worker in another, against the servers the driver started for the run (a private
Redis, and RabbitMQ and Kafka for the rows that use them), cleared between systems. Prints one
table of medians and writes the raw data as JSON to ``benchmarks/results/<date>.json``. See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import fnmatch
import importlib.metadata
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import _report, servers
from ._harness import QUICK, Sizes
from .systems import Environment, System, discover

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: A client process that takes longer than this is stopped (its row says so).
CLIENT_TIMEOUT = 1800.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nox -s bench --",
        description="QTasks against peer task queues, same machine, same run, same work.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--systems",
        help="comma-separated names or patterns (qtasks*,celery); default: all",
    )
    parser.add_argument("--repeat", type=int, default=1, help="repetitions (median reported)")
    parser.add_argument("--tasks", type=int, help="W1/W2 task count (default 10,000)")
    parser.add_argument("--roundtrips", type=int, help="W3 round trips per mode (default 200)")
    parser.add_argument("--sleep-tasks", type=int, help="W4 task count (default 2,000)")
    parser.add_argument(
        "--roundtrip-budget", type=float, help="W3 seconds per mode at most (default 30)"
    )
    parser.add_argument("--json", type=Path, help="where to write the JSON")
    parser.add_argument(
        "--results-md", action="store_true", help="also write the table to benchmarks/RESULTS.md"
    )
    parser.add_argument("--list", action="store_true", help="list the systems and exit")
    servers.add_arguments(parser)
    return parser


def _sizes(options: argparse.Namespace) -> Sizes:
    sizes = QUICK if options.quick else Sizes()
    changes = {
        "tasks": options.tasks,
        "roundtrips": options.roundtrips,
        "sleep_tasks": options.sleep_tasks,
        "roundtrip_budget": options.roundtrip_budget,
    }
    return dataclasses.replace(sizes, **{k: v for k, v in changes.items() if v is not None})


def _select(known: dict[str, type[System]], spec: str | None) -> dict[str, type[System]]:
    if not spec:
        return known
    chosen: dict[str, type[System]] = {}
    for pattern in (p.strip() for p in spec.split(",") if p.strip()):
        matched = [name for name in known if fnmatch.fnmatchcase(name, pattern)]
        if not matched:
            raise SystemExit(f"--systems: no system matches {pattern!r}; known: {', '.join(known)}")
        for name in matched:
            chosen[name] = known[name]
    return {name: known[name] for name in known if name in chosen}


def _versions(systems: dict[str, type[System]]) -> dict[str, str]:
    names = ["qtasks-core", "qtasks-redis", "qtasks-rabbitmq", "qtasks-kafka", "redis", "hiredis"]
    for system in systems.values():
        names += [d for d in system.distributions if d not in names]
    found: dict[str, str] = {}
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def _origins() -> dict[str, str]:
    """Where each installed qtasks distribution came from (a checkout path and its commit)."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        raw = dist.read_text("direct_url.json")
        if not name.startswith("qtasks") or not raw:
            continue
        url: str = json.loads(raw).get("url", "")
        origin = url
        if url.startswith("file://"):
            path = url.removeprefix("file://")
            git = ["git", "-C", path]
            with contextlib.suppress(OSError, subprocess.CalledProcessError):
                head = subprocess.run(
                    [*git, "rev-parse", "--short", "HEAD"], capture_output=True, check=True
                ).stdout.decode()
                dirty = subprocess.run(
                    [*git, "status", "--porcelain", "."], capture_output=True, check=True
                ).stdout.strip()
                origin += f" @ {head.strip()}" + (" (with uncommitted changes)" if dirty else "")
        found[name] = origin
    return found


def _output_path(options: argparse.Namespace, date: str) -> Path:
    if options.json is not None:
        path: Path = options.json
        return path
    path = RESULTS / f"{date}.json"
    n = 2
    while path.exists():
        path = RESULTS / f"{date}.{n}.json"
        n += 1
    return path


def _run_client(
    name: str, env: Environment, sizes: Sizes, workdir: Path, rep: int
) -> dict[str, Any]:
    """One system, one repetition, in a fresh process; a failure becomes an error entry."""
    config = workdir / f"{name.replace('@', '-')}.{rep}.config.json"
    result = config.with_suffix(".result.json")
    config.write_text(json.dumps({"system": name, "sizes": sizes.as_dict(), "result": str(result)}))
    command = [env.python, "-m", "benchmarks._client", str(config)]
    process = subprocess.Popen(command, env=env.child_env(), cwd=env.root)
    try:
        code = process.wait(CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return {"phases": {}, "errors": {"client": f"stopped after {CLIENT_TIMEOUT:.0f} s"}}
    except BaseException:
        process.send_signal(signal.SIGINT)
        process.wait(60)
        raise
    if code != 0 or not result.exists():
        return {"phases": {}, "errors": {"client": f"client process exited with code {code}"}}
    data: dict[str, Any] = json.loads(result.read_text())
    return data


def _new_report(
    options: argparse.Namespace,
    argv: list[str],
    sizes: Sizes,
    selected: dict[str, type[System]],
    workdir: Path,
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "argv": argv,
        "quick": options.quick,
        "repeat": options.repeat,
        "sizes": sizes.as_dict(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_before": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": _versions(selected),
        "origins": _origins(),
        "servers": {},
        "logs": str(workdir),
        "systems": {},
    }
    for name, system in selected.items():
        missing = system.missing()
        entry: dict[str, Any] = {
            "summary": system.summary,
            "concurrency": system.concurrency,
            "supports": {"bulk": system.bulk, "probe": system.probe},
            "reps": [],
            "median": {},
        }
        if missing:
            entry["not_installed"] = f"{missing} is not installed"
        report["systems"][name] = entry
    return report


def _run_all(
    report: dict[str, Any],
    runnable: dict[str, type[System]],
    options: argparse.Namespace,
    sizes: Sizes,
    workdir: Path,
) -> None:
    """Every repetition of every runnable system, its servers cleared around each."""
    kinds = {kind for s in runnable.values() for kind in s.servers}
    with servers.open_servers(kinds, options) as (running, missing):
        report["servers"] = {kind: server.describe() for kind, server in running.items()}
        env = Environment(
            servers={kind: server.url for kind, server in running.items()},
            python=sys.executable,
            root=str(ROOT),
            logdir=str(workdir),
        )
        names = []
        for name, system in runnable.items():
            lacking = [kind for kind in system.servers if kind in missing]
            if lacking:
                reason = "; ".join(missing[kind] for kind in lacking)
                report["systems"][name]["unavailable"] = reason
                print(f"{name}: skipped, {reason}", flush=True)
            else:
                names.append(name)
        for rep in range(options.repeat):
            # Each repetition starts one system later, so slow drift in the machine's load
            # does not always land on the same systems.
            shift = rep % len(names) if names else 0
            for name in names[shift:] + names[:shift]:
                system = runnable[name]
                print(f"[rep {rep + 1}/{options.repeat}] {name}", flush=True)
                for kind in system.servers:
                    running[kind].reset()
                data = _run_client(name, env, sizes, workdir, rep)
                report["systems"][name]["reps"].append(data)
                for kind in system.servers:
                    running[kind].reset()


def main(argv: list[str] | None = None) -> None:
    """Parse the options, run every selected system, print and save the results."""
    argv = sys.argv[1:] if argv is None else argv
    options = _parser().parse_args(argv)
    known = discover()
    if options.list:
        for name, system in known.items():
            missing = system.missing()
            state = f"not installed ({missing} missing)" if missing else "installed"
            print(f"{name:22} {state:36} {system.summary}")
        return
    if options.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    selected = _select(known, options.systems)
    sizes = _sizes(options)
    runnable = {n: s for n, s in selected.items() if s.missing() is None}
    started = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="qtasks-bench-"))
    report = _new_report(options, argv, sizes, selected, workdir)
    load = report["machine"]["load_before"]
    print(
        f"qtasks bench: {len(runnable)} of {len(selected)} systems installed; "
        f"load {load}; sizes {sizes.as_dict()}; logs in {workdir}",
        flush=True,
    )
    _run_all(report, runnable, options, sizes, workdir)
    for entry in report["systems"].values():
        entry["median"] = _report.medians(entry["reps"])
    report["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    report["duration_s"] = time.time() - started
    path = _output_path(options, report["date"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    print()
    print(_report.table(report["systems"]))
    print()
    print(
        f"medians of {options.repeat} repetition(s); load {load} -> "
        f"{report['machine']['load_after']}; {report['duration_s']:.0f} s; JSON: {path}"
    )
    for name, entry in report["systems"].items():
        for i, rep_data in enumerate(entry["reps"]):
            for phase, message in rep_data.get("errors", {}).items():
                print(f"error: {name} rep {i + 1} {phase}: {message}")
    if options.results_md:
        results_md = ROOT / "benchmarks" / "RESULTS.md"
        results_md.write_text(_report.markdown(report))
        print(f"table written to {results_md}")


if __name__ == "__main__":
    main()
