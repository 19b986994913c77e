"""Plugin discovery and the registry of components.

Plugins are loaded through pluggy from the entry-point group ``hepreco``
(built-ins included).  A registration hook may return classes or lazy
``"package.module:ClassName"`` references, imported only when a job (or
``hepreco describe``) uses them, so that listing plugins or running a small
job does not import every algorithm's kernels.  Set ``HEPRECO_DISABLE_PLUGIN_AUTOLOAD=1`` to load only
the built-ins plus the modules named in ``HEPRECO_PLUGINS`` (comma
separated) or in the job options' ``job.plugins`` list, e.g. in tests.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .errors import ConfigurationError, UnknownNameError

ENTRY_POINT_GROUP = "hepreco"
DISABLE_AUTOLOAD = "HEPRECO_DISABLE_PLUGIN_AUTOLOAD"
EXTRA_PLUGINS = "HEPRECO_PLUGINS"
BUILTIN_MODULE = "hepreco.plugins.builtin"

KINDS = {
    "algorithm": "hepreco_register_algorithms",
    "service": "hepreco_register_services",
    "source": "hepreco_register_sources",
    "output": "hepreco_register_outputs",
    "geometry": "hepreco_register_geometries",
}


@dataclass
class PluginInfo:
    """A loaded plugin and what it provides."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    provides: dict[str, list[str]] = field(default_factory=dict)


class Registry:
    """Components by kind and name, with the plugin that provided each."""

    def __init__(self, manager: pluggy.PluginManager):
        self.manager = manager
        self.entries: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
        self.origin: dict[tuple[str, str], str] = {}
        self.plugins: list[PluginInfo] = []
        #: ``[(plugin name, artefact file or folder)]`` from ``hepreco_register_artefacts``, in plugin order
        self.artefact_locations: list[tuple[str, str]] = []

    def add(self, kind: str, name: str, obj: Any, plugin: str) -> None:
        if name in self.entries[kind] and self.entries[kind][name] is not obj:
            raise ConfigurationError(f"{kind} {name!r} is provided by two plugins: "
                                     f"{self.origin[(kind, name)]!r} and {plugin!r}")
        self.entries[kind][name] = obj
        self.origin[(kind, name)] = plugin

    def get(self, kind: str, name: str, location=None) -> Any:
        """The component class (or geometry path) called ``name``; lazy references are imported now."""
        try:
            obj = self.entries[kind][name]
        except KeyError:
            what = {"algorithm": "algorithm type", "sequence": "algorithm type"}.get(kind, f"{kind} type")
            raise UnknownNameError(what, name, list(self.entries[kind]), location) from None
        if kind != "geometry" and isinstance(obj, str):
            obj = self.entries[kind][name] = _import_reference(obj, name, self.origin[(kind, name)])
        return obj

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def find(self, name: str) -> tuple[str, Any]:
        """Look a name up in every kind (for ``hepreco describe``)."""
        for kind, table in self.entries.items():
            if name in table:
                return kind, self.get(kind, name)
        every = [n for table in self.entries.values() for n in table]
        raise UnknownNameError("component", name, every)


def _import_reference(reference: str, name: str, plugin: str) -> type:
    """Import ``"package.module:Class"`` registered lazily by a plugin."""
    module_name, _, attr = reference.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr or name)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"plugin {plugin!r} registered {name!r} as {reference!r}, which cannot be "
                                 f"imported: {type(exc).__name__}: {exc}") from None
    type_name = getattr(obj, "type_name", None)
    if type_name and type_name != name:
        raise ConfigurationError(f"plugin {plugin!r} registered {reference!r} as {name!r}, but the class calls "
                                 f"itself {type_name!r}")
    return obj


def _entry_point_plugins() -> list[tuple[str, Any, str, str]]:
    found = []
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group == ENTRY_POINT_GROUP:
                found.append((ep, dist.metadata["name"], dist.version))
    seen, out = set(), []
    for ep, dist_name, version in sorted(found, key=lambda t: (t[0].name != "builtin", t[0].name)):
        if ep.name in seen:
            continue
        seen.add(ep.name)
        out.append((ep.name, ep, dist_name, version))
    return out


def build_registry(modules: Iterable[str] = (), autoload: bool | None = None) -> Registry:
    """Load plugins and collect what they register.

    Parameters
    ----------
    modules
        Extra plugin modules to import and register (``job.plugins``).
    autoload
        Load every entry point of the group ``hepreco``; defaults to True
        unless ``HEPRECO_DISABLE_PLUGIN_AUTOLOAD`` is set to a non-empty value.
    """
    if autoload is None:
        autoload = not os.environ.get(DISABLE_AUTOLOAD)
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm)
    infos: dict[str, PluginInfo] = {}

    def register(name: str, obj: Any, module: str, dist: str = "", version: str = "") -> None:
        if pm.has_plugin(name) or pm.is_registered(obj):
            return
        pm.register(obj, name=name)
        infos[name] = PluginInfo(name, module, dist, version)

    if autoload:
        for name, ep, dist, version in _entry_point_plugins():
            try:
                obj = ep.load()
            except Exception as exc:
                raise ConfigurationError(f"plugin {name!r} (entry point {ep.value!r} of {dist} {version}) "
                                         f"failed to load: {type(exc).__name__}: {exc}") from exc
            register(name, obj, ep.value, dist, version)
    if not pm.has_plugin("builtin"):
        register("builtin", importlib.import_module(BUILTIN_MODULE), BUILTIN_MODULE, "hepreco", _version())
    extra = [m for m in os.environ.get(EXTRA_PLUGINS, "").split(",") if m.strip()]
    for module in [*extra, *modules]:
        module = module.strip()
        try:
            obj = importlib.import_module(module)
        except ImportError as exc:
            raise ConfigurationError(f"plugin module {module!r} cannot be imported: {exc}") from exc
        register(module, obj, module)
    pm.check_pending()

    for kind, hook_name in KINDS.items():
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            result = impl.function() or ([] if kind != "geometry" else {})
            items = result.items() if kind == "geometry" else ((_name_of(c), c) for c in result)
            for name, obj in items:
                registry.add(kind, name, obj, impl.plugin_name)
                infos[impl.plugin_name].provides.setdefault(kind, []).append(name)
    for impl in pm.hook.hepreco_register_artefacts.get_hookimpls():
        result = impl.function() or []
        if isinstance(result, (str, os.PathLike)):
            result = [result]
        for location in result:
            registry.artefact_locations.append((impl.plugin_name, os.fspath(location)))
            infos[impl.plugin_name].provides.setdefault("artefact", []).append(os.fspath(location))
    registry.plugins = list(infos.values())
    return registry


def _name_of(component: Any) -> str:
    """Registered name: a class's ``type_name``, or the class part of a lazy ``"module:Class"`` reference."""
    if isinstance(component, str):
        return component.partition(":")[2] or component.rpartition(".")[2]
    return getattr(component, "type_name", component.__name__)


def _version() -> str:
    try:
        return importlib.metadata.version("hepreco")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


_CACHE: dict[tuple, Registry] = {}


def get_registry(modules: Iterable[str] = ()) -> Registry:
    """The process-wide registry for these extra modules (built once)."""
    key = (tuple(modules), os.environ.get(DISABLE_AUTOLOAD, ""), os.environ.get(EXTRA_PLUGINS, ""))
    if key not in _CACHE:
        _CACHE[key] = build_registry(modules)
    return _CACHE[key]
