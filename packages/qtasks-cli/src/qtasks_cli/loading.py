"""``-A module:attribute``: import the user's app, and say exactly which part failed if not.

The attribute may be a dotted path (``pkg.tasks:services.app``) and may name a factory, a
callable taking no arguments that returns the app. The current directory is put on
``sys.path`` first, as people expect when they run ``qtasks`` next to their code.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from types import ModuleType
from typing import Any

from qtasks.app import QueueTasks as SyncQueueTasks
from qtasks.asyncio import QueueTasks as AsyncQueueTasks
from qtasks.bound import AsyncTask, SyncTask
from qtasks_cli.errors import CliError, ExitCode

__all__ = ["load_app"]

_EXAMPLE = "for example -A myproject.tasks:app"


def load_app(spec: str) -> AsyncQueueTasks:
    """Import ``spec`` (``module:attribute``) and return the async app behind it."""
    module_name, _, attribute = spec.strip().partition(":")
    if not module_name or module_name.startswith(".") or spec.count(":") > 1:
        raise CliError(f"-A expects module:attribute, got {spec!r} ({_EXAMPLE})", ExitCode.USAGE)
    attribute = attribute or "app"
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    module = _import(module_name)
    target = _attribute(module, module_name, attribute)
    where = f"{module_name}:{attribute}"
    if isinstance(target, (AsyncTask, SyncTask)):
        raise CliError(_not_a_task(target, module, module_name, where), ExitCode.USAGE)
    if not isinstance(target, (AsyncQueueTasks, SyncQueueTasks)):
        if not callable(target):
            raise CliError(
                f"'{where}' is a {type(target).__name__}, not a QueueTasks app or a factory "
                "returning one",
                ExitCode.USAGE,
            )
        try:
            target = target()
        except Exception as exc:
            raise CliError(
                f"calling the factory '{where}' failed: {_describe(exc)}", ExitCode.USAGE
            ) from exc
        if not isinstance(target, (AsyncQueueTasks, SyncQueueTasks)):
            raise CliError(
                f"the factory '{where}' returned a {type(target).__name__}, not a QueueTasks app",
                ExitCode.USAGE,
            )
    return target.aio if isinstance(target, SyncQueueTasks) else target


def _import(module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (module_name == missing or module_name.startswith(f"{missing}.")):
            raise CliError(
                f"cannot import '{module_name}': no module named '{missing}' (searched the "
                f"current directory {os.getcwd()} and sys.path; {_EXAMPLE})",
                ExitCode.USAGE,
            ) from exc
        raise CliError(
            f"importing '{module_name}' failed: {_describe(exc)}", ExitCode.USAGE
        ) from exc
    except Exception as exc:
        raise CliError(
            f"importing '{module_name}' failed: {_describe(exc)}", ExitCode.USAGE
        ) from exc


def _attribute(module: ModuleType, module_name: str, attribute: str) -> Any:
    target: Any = module
    walked: list[str] = []
    for part in attribute.split("."):
        if not part.isidentifier():
            raise CliError(f"'{attribute}' is not an attribute path ({_EXAMPLE})", ExitCode.USAGE)
        if not hasattr(target, part):
            owner = f"module '{module_name}'" if not walked else f"'{'.'.join(walked)}'"
            apps = _apps_in(module) if not walked else []
            hint = f"; apps found there: {', '.join(apps)}" if apps else ""
            raise CliError(f"{owner} has no attribute '{part}'{hint}", ExitCode.USAGE)
        target = getattr(target, part)
        walked.append(part)
    return target


def _not_a_task(
    task: AsyncTask[..., Any] | SyncTask[..., Any], module: ModuleType, module_name: str, where: str
) -> str:
    """Say it is a task, and which ``module:attribute`` holds the app that owns it.

    The app is looked for in the module ``-A`` named, then in the module defining the
    task's function (where a task imported from elsewhere was registered).
    """
    said = f"'{where}' is the task '{task.name}', not a QueueTasks app"
    home = sys.modules.get(getattr(task.definition.func, "__module__", "") or "")
    for candidate in dict.fromkeys(m for m in (module, home) if m is not None):
        for attribute, app in sorted(_apps_of(candidate).items()):
            if app.registry.get(task.name) is task.definition:
                return (
                    f"{said}: it belongs to app '{app.name}'; point -A at the app: "
                    f"-A {candidate.__name__}:{attribute}"
                )
    apps = _apps_in(module)
    found = f"; apps found there: {', '.join(apps)}" if apps else ""
    return (
        f"{said}: point -A at the app it belongs to, as module:attribute "
        f"(no app in module '{module_name}' owns it{found})"
    )


def _apps_of(module: ModuleType) -> dict[str, AsyncQueueTasks]:
    """The module's apps by attribute name, each as its async app."""
    return {
        name: value.aio if isinstance(value, SyncQueueTasks) else value
        for name, value in vars(module).items()
        if isinstance(value, (AsyncQueueTasks, SyncQueueTasks))
    }


def _apps_in(module: ModuleType) -> list[str]:
    return sorted(_apps_of(module))


def _describe(exc: BaseException) -> str:
    """``Type: message (file:line)``, the line being the deepest frame of the user's code."""
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f" ({exc.filename}:{exc.lineno})"
    else:
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if "importlib" not in f.filename and "qtasks_cli" not in f.filename
        ]
        if frames:
            where = f" ({frames[-1].filename}:{frames[-1].lineno})"
    message = str(exc.msg if isinstance(exc, SyntaxError) else exc)
    return f"{type(exc).__name__}: {message}{where}"
