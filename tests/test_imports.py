"""Imports flow one way: no cycle among grokbench's modules, and plugins import only the
plugin API.

The graph is read with ``ast`` from the source (nothing is imported). An edge A -> B is
any ``import`` / ``from ... import`` in A naming grokbench module B, at module level or
inside a function or class body alike (a function-level import is still a dependency;
it only runs later). Imports under ``if TYPE_CHECKING:`` are left out: they never run.
``from pkg import name`` counts as an edge to ``pkg.name`` when that is a module, else to
``pkg``; a package's ``__init__`` is the module ``pkg``. An edge to ``pkg.mod`` does not
add one to ``pkg`` (its ``__init__`` runs first, but that is the package importing its own
parts, not a dependency of the importer that could close a cycle with it).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the source folder of each installed package (pyproject.toml: package-dir)
SOURCES = {"grokbench": ROOT / "grokbench", "grokbench.methods": ROOT / "methods",
           "grokbench.tasks": ROOT / "tasks"}
# What a built-in plugin (methods/, tasks/) may import from grokbench: the plugin API.
PLUGIN_API = {"grokbench", "grokbench.errors", "grokbench.method", "grokbench.params",
              "grokbench.search", "grokbench.task", "grokbench.preset"}


def module_files() -> dict[str, Path]:
    """Every module of grokbench (dotted name -> file), methods/ and tasks/ included."""
    out: dict[str, Path] = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import/ImportFrom node, at any depth, outside ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_package: bool, modules) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    return {f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names}


def import_graph() -> dict[str, set[str]]:
    """Module -> the grokbench modules it imports (module- and function-level)."""
    files = module_files()
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in _import_nodes(tree):
            targets |= _targets(node, name, path.name == "__init__.py", files)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first = last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_checker_finds_a_cycle_and_reads_relative_and_nested_imports():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    graph = import_graph()
    # function-level: analysis imports metrics at module level; summary imports variants in a function
    assert "grokbench.metrics" in graph["grokbench.stats.analysis"]
    assert "grokbench.variants" in graph["grokbench.leaderboard.summary"]
    assert "grokbench.stats.samples" in graph["grokbench.stats.analysis"]  # relative, one level


def test_no_import_cycle_among_grokbench_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_nothing_but_the_cli_imports_the_command_line_grammar():
    graph = import_graph()
    importers = {m for m, deps in graph.items() if deps & {"grokbench.cli", "grokbench.cli_args"}}
    assert importers <= {"grokbench.cli", "grokbench.__main__"}, sorted(importers)
    assert "grokbench.cli_args" in graph["grokbench.cli"]  # the walk sees imports at all


def test_builtin_plugins_import_only_the_plugin_api():
    graph = import_graph()
    outside = {(m, t) for m, ts in graph.items() for t in ts
               if m.startswith(("grokbench.methods", "grokbench.tasks"))
               and not t.startswith(("grokbench.methods", "grokbench.tasks")) and t not in PLUGIN_API}
    assert not outside, sorted(outside)
