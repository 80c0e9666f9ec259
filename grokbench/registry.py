"""Name -> plugin class, for tasks and methods, and where each class came from.

Three sources, loaded on first use:
1. built-ins: every module of the packages ``grokbench.tasks`` and ``grokbench.methods``
   (the repository's top-level tasks/ and methods/ folders, installed under those names;
   from an uninstalled checkout they are loaded from the folders directly);
2. third-party packages: entry points in the groups ``grokbench.tasks`` and
   ``grokbench.methods``, each naming a plugin class or a module that registers some;
3. one-off files: ``load_plugin_file(path)`` (the CLI's ``--plugin FILE``).

A plugin module registers its classes with the ``@register`` decorator. Names are one
namespace for tasks and methods (``--set NAME.PARAM`` must be unambiguous): two different
classes under one name are an error, never a silent replacement. ``source(name)`` says
where a class came from, so that a plugin's trials never share a key with a built-in's.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from .errors import UserError, one_line
from .method import Method, Optimizer, Transform
from .plugin import Plugin
from .task import Task

P = TypeVar("P", bound=type[Plugin])

_TASKS: dict[str, type[Task]] = {}
_METHODS: dict[str, type[Method]] = {}
_SOURCES: dict[type, str] = {}  # class -> source(), see there
_loading: list[str] = []  # the source being loaded right now (innermost last)
_loaded = False
_plugin_files: list[str] = []

BUILTIN = "builtin"
_BUILTIN_PACKAGES = ("grokbench.tasks", "grokbench.methods")
_FRAMEWORK = (Plugin, Task, Method, Transform, Optimizer, object)
_INSTANCE_ATTRIBUTES = {"params"}  # set by Plugin.__init__ besides the parameters


def register(cls: P) -> P:
    """Class decorator: add a Task or Method subclass to the registry under ``cls.name``.

    Raises UserError for a malformed name or ``defaults``, a parameter that would hide an
    attribute of the class, or a name already taken by a different class."""
    if issubclass(cls, Task):
        table: dict = _TASKS
    elif issubclass(cls, Method):
        table = _METHODS
    else:
        raise TypeError(f"{cls!r} is neither a Task nor a Method")
    name = cls.name
    if not isinstance(name, str) or not name or not name.replace("_", "").isalnum():
        raise UserError(f"plugin {cls.__qualname__} needs a name of letters, digits and _, not {name!r}")
    _check_parameters(cls)
    source = _loading[-1] if _loading else _source_of_module(cls.__module__)
    known = _TASKS.get(name) or _METHODS.get(name)
    if known is not None and not _same_class(known, cls):
        raise UserError(
            f"two plugins are named {name!r}: {_where(known, _SOURCES.get(known, '?'))} "
            f"and {_where(cls, source)}; rename one"
        )
    table[name] = cls
    _SOURCES[cls] = source
    return cls


def _check_parameters(cls: type[Plugin]) -> None:
    """``defaults`` maps parameter names to values; no parameter may hide an attribute
    (a method, property, or anything of the base classes), since each becomes one."""
    defaults = cls.defaults
    if not isinstance(defaults, dict) or not all(isinstance(k, str) for k in defaults):
        raise UserError(f"plugin {cls.name!r}: defaults must be a dict of parameter names to values")
    for key in defaults:
        if _hides_attribute(cls, key):
            raise UserError(
                f"plugin {cls.name!r}: parameter {key!r} would replace the attribute "
                f"{cls.__qualname__}.{key}; rename the parameter"
            )


def _hides_attribute(cls: type, key: str) -> bool:
    """Whether a parameter ``key`` set on an instance hides something other than a plain
    data default that ``cls`` (or a plugin class it derives from) declares itself."""
    if key in _INSTANCE_ATTRIBUTES or any(key in vars(base) for base in _FRAMEWORK):
        return True
    for klass in cls.__mro__:
        if key in vars(klass):
            attr = vars(klass)[key]
            return callable(attr) or hasattr(attr, "__get__")
    return False


def _same_class(a: type, b: type) -> bool:
    """The same class, or the same definition imported again (a module reloaded)."""
    return a is b or (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _where(cls: type, source: str) -> str:
    module = sys.modules.get(cls.__module__)
    origin = getattr(module, "__file__", None) or cls.__module__
    return f"{cls.__qualname__} in {origin} ({source})"


def _source_of_module(module: str) -> str:
    """The source of a class registered outside any loading grokbench did itself."""
    if module.startswith(tuple(p + "." for p in _BUILTIN_PACKAGES)):
        return BUILTIN
    return f"module:{module}"


@contextmanager
def _loading_from(source: str) -> Iterator[None]:
    _loading.append(source)
    try:
        yield
    finally:
        _loading.pop()


def source(name: str) -> str:
    """Where the plugin registered as ``name`` comes from: ``"builtin"``,
    ``"entry_point:<distribution>==<version>"``, ``"file:<sha256 of the file's text, 12
    hex digits>"``, or ``"module:<module>"`` for a class registered by code grokbench did
    not load itself (a script of your own). Raises UserError for an unknown name."""
    load_builtins()
    cls = _TASKS.get(name) or _METHODS.get(name)
    if cls is None:
        raise UserError(f"unknown plugin {name!r}")
    return _SOURCES.get(cls) or _source_of_module(cls.__module__)


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


def _entry_point_source(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    if dist is not None and getattr(dist, "name", None):
        return f"entry_point:{dist.name}=={dist.version}"
    return f"entry_point:{ep.value.split(':')[0].split('.')[0]}"


def _load_entry_points(group: str) -> None:
    for ep in entry_points(group=group):
        ep_source = _entry_point_source(ep)
        try:
            with _loading_from(ep_source):
                obj = ep.load()
        except UserError:
            raise
        except BaseException as exc:  # a broken third-party package must not break grokbench
            raise UserError(f"plugin entry point {ep.name!r} ({ep.value}) failed to load: {one_line(exc)}") from exc
        with _loading_from(ep_source):
            if isinstance(obj, type) and issubclass(obj, Plugin):
                register(obj)
        module = obj.__name__ if isinstance(obj, ModuleType) else getattr(obj, "__module__", "")
        for cls, src in list(_SOURCES.items()):  # registered before, when its module was imported
            if src == f"module:{cls.__module__}" and cls.__module__ == module:
                _SOURCES[cls] = ep_source


def load_builtins() -> None:
    """Import every built-in plugin module and the installed entry points (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    with _loading_from(BUILTIN):
        for package_name in ("tasks", "methods"):
            package = _builtin_package(package_name)
            for info in pkgutil.iter_modules(package.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{package.__name__}.{info.name}")
    _load_entry_points("grokbench.tasks")
    _load_entry_points("grokbench.methods")


def _read_plugin_file(path: Path) -> tuple[str, str]:
    """The file's text and its source, ``file:<sha256 of the text, 12 hex digits>``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read plugin file {path}: {one_line(exc)}") from exc
    return text, "file:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def load_plugin_file(path: str | Path) -> ModuleType:
    """Import a one-off plugin file (once per path); its @register decorators add its plugins.

    Anything the file raises while it runs, SystemExit and KeyboardInterrupt included,
    becomes a UserError naming the file, and nothing it registered stays registered."""
    path = Path(path).resolve()
    if not path.is_file():
        raise UserError(f"plugin file {path} does not exist")
    module_name = "grokbench_plugin_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    if module_name in sys.modules:
        return sys.modules[module_name]
    text, file_src = _read_plugin_file(path)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None:
        raise UserError(f"plugin file {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    saved = dict(_TASKS), dict(_METHODS), dict(_SOURCES)
    sys.modules[module_name] = module
    try:
        with _loading_from(file_src):
            exec(compile(text, str(path), "exec"), module.__dict__)  # exactly the text hashed
    except BaseException as exc:
        sys.modules.pop(module_name, None)
        for table, before in zip((_TASKS, _METHODS, _SOURCES), saved):
            table.clear()
            table.update(before)
        if isinstance(exc, UserError):
            raise
        raise UserError(f"plugin file {path} failed to import: {one_line(exc)}") from exc
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
