"""The public API is what each package's ``__init__`` exports in ``__all__``, and no more.

Each top-level module's ``__all__`` is compared with a snapshot kept here, so adding or
removing a public name is a deliberate edit of this file, seen in review. Every public module
(no ``_`` in its dotted path) must declare ``__all__`` and every name in it must resolve; the
docs and examples may import only names that are exported.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Every distribution's import package: the roots the walk below starts from.
PACKAGES = [
    "qtasks",
    "qtasks_redis",
    "qtasks_rabbitmq",
    "qtasks_kafka",
    "qtasks_timer",
    "qtasks_cli",
]

EXPECTED: dict[str, set[str]] = {
    "qtasks": {
        "AsyncState",
        "AsyncTask",
        "Attempt",
        "BackendNotInstalledError",
        "BaseTaskContext",
        "BrokerConnectionError",
        "BrokerError",
        "Call",
        "CancelTask",
        "ConfigurationError",
        "DependencyError",
        "Depends",
        "GlobalConfigError",
        "InjectedArgumentError",
        "MaxTimeExceededError",
        "MessageDecodeError",
        "Outcome",
        "Plugin",
        "QTasksError",
        "QueueTasks",
        "Retry",
        "StorageConnectionError",
        "StorageError",
        "SyncState",
        "SyncTask",
        "SyncTaskContext",
        "Task",
        "TaskAlreadyRegisteredError",
        "TaskArgumentError",
        "TaskCall",
        "TaskContext",
        "TaskDefinitionError",
        "TaskError",
        "TaskMiddleware",
        "TaskNotFoundError",
        "TaskStatus",
        "TaskTimeoutError",
        "UnknownTaskError",
        "__version__",
    },
    "qtasks.asyncio": {"ADD_TASK_OPTIONS", "QueueTasks"},
    "qtasks.testing": {"AsyncTestCase", "SyncTestCase"},
    "qtasks_redis": {
        "DEFAULT_URL",
        "QTasksRedisError",
        "RedisBroker",
        "RedisBrokerConnectionError",
        "RedisBrokerError",
        "RedisGlobalConfig",
        "RedisGlobalConfigConnectionError",
        "RedisGlobalConfigError",
        "RedisSettings",
        "RedisStorage",
        "RedisStorageConnectionError",
        "RedisStorageError",
        "__version__",
        "parse_settings",
    },
    "qtasks_rabbitmq": {
        "DirectReplyStorage",
        "Names",
        "QTasksRabbitMQError",
        "RabbitMQBroker",
        "RabbitMQBrokerError",
        "RabbitMQConnectionError",
        "SharedStorageRequiredError",
        "UnroutableMessageError",
        "__version__",
    },
    "qtasks_kafka": {
        "DEFAULT_DELAY_STEPS",
        "KafkaBroker",
        "KafkaBrokerError",
        "KafkaConfigurationError",
        "KafkaConnectionError",
        "QTasksKafkaError",
        "__version__",
    },
    "qtasks_timer": {
        "AsyncTimer",
        "Clock",
        "MISSED_POLICIES",
        "ManualClock",
        "MissedPolicy",
        "Plan",
        "Schedule",
        "ScheduleStatus",
        "SyncTimer",
        "SystemClock",
        "__version__",
        "plan_ticks",
        "run_timers",
        "timers_of",
    },
    "qtasks_cli": {
        "AppContext",
        "CliError",
        "ComponentKind",
        "ExitCode",
        "__version__",
        "cli",
        "configure_logging",
        "echo_json",
        "format_age",
        "format_time",
        "load_app",
        "main",
        "pass_app_context",
        "progress",
        "render_table",
    },
}


def exported(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    assert isinstance(names, (list, tuple)), f"{module.__name__} has no __all__ list"
    assert all(isinstance(n, str) for n in names), f"{module.__name__}.__all__ holds a non-str"
    assert len(set(names)) == len(names), f"{module.__name__}.__all__ lists a name twice"
    return list(names)


def unresolved(module: ModuleType) -> list[str]:
    return [name for name in exported(module) if not hasattr(module, name)]


def public_modules() -> list[str]:
    """Every importable module of the packages, except those with a ``_`` part in the path."""
    found: list[str] = []
    for root in PACKAGES:
        package = importlib.import_module(root)
        found.append(root)
        found.extend(
            info.name
            for info in pkgutil.walk_packages(package.__path__, f"{root}.")
            if not any(part.startswith("_") for part in info.name.split("."))
        )
    return sorted(found)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_top_level_exports_match_the_snapshot(name: str) -> None:
    module = importlib.import_module(name)
    assert unresolved(module) == []
    names = set(exported(module))
    added, removed = sorted(names - EXPECTED[name]), sorted(EXPECTED[name] - names)
    assert (added, removed) == ([], []), (
        f"{name}.__all__ changed (added {added}, removed {removed}): if that is deliberate, "
        "update EXPECTED in tests/test_public_api.py"
    )


def test_the_walk_finds_the_public_modules() -> None:
    # guards the walk itself: a broken walk would make the next test pass on nothing
    modules = public_modules()
    for name in ("qtasks.interfaces.broker", "qtasks.testing.conformance", "qtasks_redis.keys"):
        assert name in modules
    assert not [m for m in modules if "._" in m]


@pytest.mark.parametrize("name", public_modules())
def test_every_public_module_declares_names_that_resolve(name: str) -> None:
    module = importlib.import_module(name)
    assert unresolved(module) == [], f"{name}.__all__ names what the module does not have"


def imports_in(path: Path) -> list[tuple[int, str, str]]:
    """``(line, module, name)`` for each ``from qtasks... import name`` in a file or its code."""
    text = path.read_text()
    if path.suffix == ".md":
        blocks: list[tuple[int, str]] = []
        lines = text.splitlines()
        start: int | None = None
        for number, line in enumerate(lines, 1):
            if line.startswith("```python"):
                start = number
            elif line.startswith("```") and start is not None:
                blocks.append((start, "\n".join(lines[start : number - 1])))
                start = None
    else:
        blocks = [(0, text)]
    found = []
    for offset, source in blocks:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # a fragment (a signature, an ellipsis); docs tests check examples
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 0
                and node.module
                and node.module.split(".")[0] in PACKAGES
            ):
                found += [(offset + node.lineno, node.module, a.name) for a in node.names]
    return found


def documented_files() -> list[Path]:
    return sorted(
        [
            *ROOT.glob("docs/*.md"),
            *ROOT.glob("examples/*.py"),
            ROOT / "README.md",
            *ROOT.glob("packages/*/README.md"),
        ]
    )


@pytest.mark.parametrize("path", documented_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_and_examples_import_only_exported_names(path: Path) -> None:
    wrong = []
    for line, module_name, name in imports_in(path):
        if any(part.startswith("_") for part in module_name.split(".")):
            wrong.append(f"line {line}: from {module_name} import {name} (a private module)")
            continue
        module = importlib.import_module(module_name)
        if name in exported(module):
            continue
        try:
            importlib.import_module(f"{module_name}.{name}")  # a public submodule
        except ImportError:
            wrong.append(f"line {line}: from {module_name} import {name} (not in __all__)")
    assert wrong == []
