"""Finding plugins and dispatching a job's hooks to its one backend.

Every plugin comes from the entry-point group ``clustrix``, registered under the entry
point's name; the local backend is one of them. A plugin that implements
``clustrix_submit`` is a backend. :meth:`Plugins.hooks` returns hook callers that leave
out every *other* backend, so each backend's hooks answer only for its own jobs while
non-backend plugins (the core's defaults, auditing hookwrappers) take part in all.

The contract is checked at load: a backend missing one of
:data:`clustrix.hookspecs.REQUIRED_HOOKS` is refused (unregistered, listed by
``clustrix plugins`` as a load failure naming the plugin and the hook), and a
:class:`clustrix.batch.BatchScheduler` missing one of its abstract methods cannot be
instantiated at all.
"""

from __future__ import annotations

import importlib.metadata
import threading
from dataclasses import dataclass
from typing import Any

import pluggy

from . import defaults, hookspecs
from .config import Setting, settings_table
from .errors import BackendNotInstalled, PluginContractError


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str
    backend: bool
    error: str | None = None


class _Relay:
    """Attribute access to hook callers restricted to one backend."""

    def __init__(self, pm: pluggy.PluginManager, others: list[object]) -> None:
        self._pm, self._others = pm, others
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._cache:
            self._cache[name] = self._pm.subset_hook_caller(name, self._others)
        return self._cache[name]


class Plugins:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("clustrix")
        self.pm.add_hookspecs(hookspecs)
        for name, plugin in defaults.PLUGINS:
            self.pm.register(plugin, name=name)
        self.failed: dict[str, PluginInfo] = {}
        self.info: dict[str, PluginInfo] = {}
        for ep in importlib.metadata.entry_points(group="clustrix"):
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            if self.pm.has_plugin(ep.name) or self.pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
                self._check(plugin, ep.name)
            except Exception as exc:  # a broken plugin must not break the others
                self.failed[ep.name] = PluginInfo(ep.name, dist, version, False, f"{type(exc).__name__}: {exc}")
                continue
            self.info[ep.name] = PluginInfo(ep.name, dist, version, self._is_backend(plugin))
        self._relays: dict[str, _Relay] = {}
        self._lock = threading.Lock()

    def register(self, plugin: object, name: str) -> None:
        """Register a plugin by hand (tests, notebooks); same rules as an entry point."""
        self.pm.register(plugin, name=name)
        self._check(plugin, name)
        self.info[name] = PluginInfo(name, "(registered)", "", self._is_backend(plugin))
        self._relays.clear()

    def _check(self, plugin: object, name: str) -> None:
        """Refuse (unregister, raise PluginContractError) a backend missing a required hook."""
        try:
            check_backend(self.pm, plugin, name)
        except PluginContractError:
            self.pm.unregister(plugin)
            raise

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.info.pop(name, None)
        self._relays.clear()

    def _is_backend(self, plugin: object) -> bool:
        return any(
            impl.plugin is plugin and not (impl.hookwrapper or impl.wrapper)
            for impl in self.pm.hook.clustrix_submit.get_hookimpls()
        )

    def backends(self) -> list[str]:
        return sorted(name for name, info in self.info.items() if info.backend)

    def hooks(self, backend: str) -> _Relay:
        """Hook callers for jobs of ``backend``; BackendNotInstalled if there is none."""
        with self._lock:
            relay = self._relays.get(backend)
            if relay is None:
                if backend not in self.backends():
                    failed = self.failed.get(backend)
                    if failed:
                        raise BackendNotInstalled(backend, self.backends()) from RuntimeError(
                            f"plugin {backend!r} failed to load: {failed.error}"
                        )
                    raise BackendNotInstalled(backend, self.backends())
                others = [self.pm.get_plugin(n) for n in self.backends() if n != backend]
                relay = self._relays[backend] = _Relay(self.pm, others)
            return relay

    def settings(self) -> dict[str, Setting]:
        extra: list[Setting] = []
        for group in self.pm.hook.clustrix_settings():
            extra.extend(group)
        return settings_table(extra)


def implemented(pm: pluggy.PluginManager, plugin: object) -> set[str]:
    """Names of the hooks ``plugin`` implements (hookwrappers not counted)."""
    return {
        caller.name
        for caller in pm.get_hookcallers(plugin) or []
        if any(i.plugin is plugin and not (i.hookwrapper or i.wrapper) for i in caller.get_hookimpls())
    }


def check_backend(pm: pluggy.PluginManager, plugin: object, name: str) -> None:
    """Raise PluginContractError if ``plugin`` (registered in ``pm``) is a backend, i.e.
    implements ``clustrix_submit``, without every hook of :data:`hookspecs.REQUIRED_HOOKS`."""
    hooks = implemented(pm, plugin)
    if "clustrix_submit" not in hooks:
        return
    missing = [h for h in hookspecs.REQUIRED_HOOKS if h not in hooks]
    if missing:
        raise PluginContractError(
            f"plugin {name!r} is a backend (it implements clustrix_submit) but does not implement "
            f"{', '.join(missing)}: every backend implements {', '.join(hookspecs.REQUIRED_HOOKS)} "
            "(see clustrix.hookspecs)"
        )


_manager: Plugins | None = None
_manager_lock = threading.Lock()


def manager() -> Plugins:
    """The process-wide plugin manager, loaded on first use."""
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = Plugins()
        return _manager
