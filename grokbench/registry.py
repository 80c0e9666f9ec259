"""Name -> plugin class, for tasks and methods.

Three sources, loaded on first use:
1. built-ins: every module of the packages ``grokbench.tasks`` and ``grokbench.methods``
   (the repository's top-level tasks/ and methods/ folders, installed under those names;
   from an uninstalled checkout they are loaded from the folders directly);
2. third-party packages: entry points in the groups ``grokbench.tasks`` and
   ``grokbench.methods``, each naming a plugin class or a module that registers some;
3. one-off files: ``load_plugin_file(path)`` (the CLI's ``--plugin FILE``).

A plugin module registers its classes with the ``@register`` decorator.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from .errors import UserError
from .method import Method
from .plugin import Plugin
from .task import Task

P = TypeVar("P", bound=type[Plugin])

_TASKS: dict[str, type[Task]] = {}
_METHODS: dict[str, type[Method]] = {}
_loaded = False
_plugin_files: list[str] = []


def register(cls: P) -> P:
    """Class decorator: add a Task or Method subclass to the registry under ``cls.name``."""
    if issubclass(cls, Task):
        table: dict = _TASKS
    elif issubclass(cls, Method):
        table = _METHODS
    else:
        raise TypeError(f"{cls!r} is neither a Task nor a Method")
    if not cls.name or not cls.name.replace("_", "").isalnum():
        raise UserError(f"plugin {cls.__qualname__} needs a name of letters, digits and _")
    known = table.get(cls.name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise UserError(
            f"two plugins are named {cls.name!r}: {known.__module__}.{known.__qualname__} "
            f"and {cls.__module__}.{cls.__qualname__}"
        )
    table[cls.name] = cls
    return cls


def _builtin_package(name: str) -> ModuleType:
    """Import grokbench.<name>; from an uninstalled checkout, load it from ../<name>/."""
    full = f"grokbench.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parent.parent / name
        spec = importlib.util.spec_from_file_location(
            full, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        if spec is None or spec.loader is None:
            raise
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
        return module


def _load_entry_points(group: str) -> None:
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken third-party package must not break grokbench
            raise UserError(f"plugin entry point {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        if isinstance(obj, type) and issubclass(obj, Plugin):
            register(obj)


def load_builtins() -> None:
    """Import every built-in plugin module and the installed entry points (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package_name in ("tasks", "methods"):
        package = _builtin_package(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{info.name}")
    _load_entry_points("grokbench.tasks")
    _load_entry_points("grokbench.methods")


def load_plugin_file(path: str | Path) -> ModuleType:
    """Import a one-off plugin file (once); its @register decorators add its plugins."""
    path = Path(path).resolve()
    if not path.is_file():
        raise UserError(f"plugin file {path} does not exist")
    module_name = "grokbench_plugin_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"plugin file {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except UserError:
        raise
    except Exception as exc:
        del sys.modules[module_name]
        raise UserError(f"plugin file {path} failed to import: {type(exc).__name__}: {exc}") from exc
    if str(path) not in _plugin_files:
        _plugin_files.append(str(path))
    return module


def plugin_files() -> list[str]:
    """Plugin files loaded so far (worker processes load the same ones)."""
    return list(_plugin_files)


def tasks() -> dict[str, type[Task]]:
    load_builtins()
    return dict(sorted(_TASKS.items()))


def methods() -> dict[str, type[Method]]:
    load_builtins()
    return dict(sorted(_METHODS.items()))


def get_task(name: str) -> type[Task]:
    table = tasks()
    if name not in table:
        raise UserError(f"unknown task {name!r}; valid: {', '.join(table)}")
    return table[name]


def get_method(name: str) -> type[Method]:
    table = methods()
    if name not in table:
        raise UserError(f"unknown method {name!r}; valid: {', '.join(table)}")
    return table[name]
