"""The app's plugin list: per-hook lists built when plugins change, and the calls into them.

Everything here is arranged so the hot path asks one question per hook, ``if hooks.x:``,
and does nothing more when the answer is no.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from qtasks.exceptions import CancelTask, ConfigurationError, Retry, TaskError
from qtasks.plugins.base import AFTER_HOOKS, HOOKS, TASK_HOOKS, Plugin

if TYPE_CHECKING:
    from qtasks.definition import TaskDefinition
    from qtasks.interfaces.executor import TaskCall
    from qtasks.middleware import TaskMiddleware

__all__ = ["Hook", "Plugins", "TaskHooks"]

logger = logging.getLogger("qtasks.plugins")

V = TypeVar("V")
P = TypeVar("P", bound=Plugin)

#: What ``before_execute`` may raise to end an attempt instead of being logged and skipped.
ATTEMPT_ENDING = (Retry, CancelTask, TaskError)


class Hook:
    """One overridden hook of one plugin, with its bound method."""

    __slots__ = ("func", "name", "plugin")

    def __init__(self, plugin: Plugin, name: str) -> None:
        self.plugin = plugin
        self.name = name
        self.func = getattr(plugin, name)

    async def __call__(self, *args: Any, passthrough: tuple[type[BaseException], ...] = ()) -> Any:
        try:
            result = self.func(*args)
            if inspect.isawaitable(result):
                result = await result
        except passthrough:
            raise
        except Exception:
            logger.exception(
                "plugin %s failed in %s; carrying on without it", self.plugin.plugin_name, self.name
            )
            return None
        return result


class TaskHooks:
    """The hooks and middlewares one task's attempts go through, worked out once per task."""

    __slots__ = (*TASK_HOOKS, "middlewares", "quiet_success")

    before_execute: list[Hook]
    after_execute: list[Hook]
    on_success: list[Hook]
    on_error: list[Hook]
    on_retry: list[Hook]
    on_cancel: list[Hook]
    after_attempt: list[Hook]
    middlewares: tuple[TaskMiddleware, ...]
    #: No hook sees a successful attempt, so success can be recorded without calling any.
    quiet_success: bool


def overridden(plugin: Plugin) -> list[str]:
    """The hooks ``plugin``'s class overrides, in ``HOOKS`` order."""
    cls = type(plugin)
    return [name for name in HOOKS if getattr(cls, name) is not getattr(Plugin, name)]


class Plugins:
    """The plugins of one app, in the order they were added.

    ``before_add_task``, ``on_broker_receive`` and the other app-wide hooks are attributes
    holding the hooks to call, already in calling order; the hooks of an attempt are per task
    (``for_task``), since ``Plugin.applies_to`` can keep a plugin off some tasks.
    """

    on_register: list[Hook]
    before_add_task: list[Hook]
    after_add_task: list[Hook]
    before_broker_send: list[Hook]
    before_storage_save: list[Hook]
    after_cancel: list[Hook]
    on_worker_start: list[Hook]
    on_worker_stop: list[Hook]
    on_component_stop: list[Hook]
    on_broker_receive: list[Hook]

    def __init__(self) -> None:
        self._plugins: list[Plugin] = []
        self.middlewares: list[TaskMiddleware] = []
        self._per_task: dict[TaskDefinition, TaskHooks] = {}
        self._rebuild()

    # -- the list ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Plugin]:
        return iter(list(self._plugins))

    def __len__(self) -> int:
        return len(self._plugins)

    def __contains__(self, plugin: object) -> bool:
        return any(p is plugin for p in self._plugins)

    def get(self, kind: type[P]) -> P | None:
        """The first plugin that is an instance of ``kind``, or ``None``."""
        for plugin in self._plugins:
            if isinstance(plugin, kind):
                return plugin
        return None

    def add(
        self,
        plugin: Plugin,
        definitions: Iterable[TaskDefinition] = (),
        *,
        index: int | None = None,
    ) -> None:
        """Add ``plugin`` (at ``index``, default last) and tell it about ``definitions``."""
        _check_plugin(plugin)
        if plugin in self:
            raise ConfigurationError(f"{plugin!r} is already added to this app")
        for definition in definitions:
            self.register(definition, only=plugin)
        if index is None:
            self._plugins.append(plugin)
        else:
            self._plugins.insert(index, plugin)
        self._rebuild()

    def remove(self, plugin: Plugin | type[Plugin]) -> Plugin:
        """Remove a plugin (or the first of a class) and return it."""
        found = self._find(plugin)
        self._plugins.remove(found)
        self._rebuild()
        return found

    def replace(
        self,
        old: Plugin | type[Plugin],
        new: Plugin,
        definitions: Iterable[TaskDefinition] = (),
    ) -> Plugin:
        """Put ``new`` where ``old`` was (its hooks run at the same point); return ``old``."""
        found = self._find(old)
        index = next(i for i, p in enumerate(self._plugins) if p is found)
        self._plugins.pop(index)
        try:
            self.add(new, definitions, index=index)
        except BaseException:
            self._plugins.insert(index, found)
            self._rebuild()
            raise
        return found

    def add_middleware(self, middleware: TaskMiddleware) -> None:
        """Wrap every task's execution in ``middleware`` (inside the ones added before)."""
        if not callable(middleware):
            raise ConfigurationError(
                f"a middleware must be an async callable (task, call_next), got {middleware!r}"
            )
        self.middlewares.append(middleware)
        self._per_task.clear()

    def refresh(self) -> None:
        """Ask every plugin's ``applies_to`` again (a plugin's answer changed)."""
        self._per_task.clear()

    def _find(self, plugin: Plugin | type[Plugin]) -> Plugin:
        for candidate in self._plugins:
            if candidate is plugin or (isinstance(plugin, type) and isinstance(candidate, plugin)):
                return candidate
        raise ConfigurationError(f"{plugin!r} is not among this app's plugins")

    def _rebuild(self) -> None:
        lists: dict[str, list[Hook]] = {name: [] for name in HOOKS}
        for plugin in self._plugins:
            for name in overridden(plugin):
                lists[name].append(Hook(plugin, name))
        for name in AFTER_HOOKS:
            lists[name].reverse()
        self._hooks = lists
        for name, hooks in lists.items():
            setattr(self, name, hooks)
        self._per_task.clear()

    # -- per task ----------------------------------------------------------------------------

    def register(self, definition: TaskDefinition, *, only: Plugin | None = None) -> None:
        """Run ``on_register`` hooks for a new task; a ``ConfigurationError`` propagates."""
        if only is None:
            hooks = self.on_register
        elif "on_register" in overridden(only):
            hooks = [Hook(only, "on_register")]
        else:
            hooks = []
        for hook in hooks:
            try:
                hook.func(definition)
            except ConfigurationError:
                raise
            except Exception:
                logger.exception(
                    "plugin %s failed in on_register for task '%s'",
                    hook.plugin.plugin_name,
                    definition.name,
                )
        self._per_task.pop(definition, None)

    def for_task(self, definition: TaskDefinition) -> TaskHooks:
        """The hooks of ``definition``'s attempts (cached until plugins change)."""
        hooks = self._per_task.get(definition)
        if hooks is None:
            hooks = self._per_task[definition] = self._task_hooks(definition)
        return hooks

    def _task_hooks(self, definition: TaskDefinition) -> TaskHooks:
        wanted: dict[int, bool] = {}
        for plugin in self._plugins:
            try:
                wanted[id(plugin)] = bool(plugin.applies_to(definition))
            except Exception:
                logger.exception(
                    "plugin %s failed in applies_to for task '%s'; applying it",
                    plugin.plugin_name,
                    definition.name,
                )
                wanted[id(plugin)] = True
        hooks = TaskHooks()
        for name in TASK_HOOKS:
            setattr(hooks, name, [h for h in self._hooks[name] if wanted[id(h.plugin)]])
        hooks.middlewares = (*self.middlewares, *definition.middlewares)
        hooks.quiet_success = not (hooks.after_execute or hooks.on_success or hooks.after_attempt)
        return hooks

    # -- calling -----------------------------------------------------------------------------

    @staticmethod
    async def replace_value(
        hooks: Sequence[Hook], value: V, *lead: Any, expect: type[Any] | None = None
    ) -> V:
        """Pass ``value`` through ``hooks``; each non-``None`` return replaces it.

        With ``expect``, a replacement of another type is logged and ignored.
        """
        for hook in hooks:
            result = await hook(*lead, value)
            if result is None:
                continue
            if expect is not None and not isinstance(result, expect):
                logger.error(
                    "plugin %s returned %s from %s, expected %s or None; ignoring it",
                    hook.plugin.plugin_name,
                    type(result).__name__,
                    hook.name,
                    expect.__name__,
                )
                continue
            value = result
        return value

    @staticmethod
    async def notify(hooks: Sequence[Hook], *args: Any) -> None:
        """Call every hook with ``args``; return values are ignored."""
        for hook in hooks:
            await hook(*args)

    @staticmethod
    async def before_execute_all(hooks: Sequence[Hook], call: TaskCall) -> None:
        """Run ``before_execute`` hooks; the ones that may end the attempt propagate."""
        for hook in hooks:
            await hook(call, passthrough=ATTEMPT_ENDING)


def _check_plugin(plugin: object) -> None:
    if not isinstance(plugin, Plugin):
        raise ConfigurationError(
            f"plugins must be instances of qtasks.Plugin subclasses, got {plugin!r}; "
            "subclass Plugin and override the hooks you need"
        )
    hook = getattr(type(plugin), "on_register", None)
    if inspect.iscoroutinefunction(hook):
        raise ConfigurationError(
            f"{plugin!r}: on_register runs at import time and must be a plain def, not async"
        )
