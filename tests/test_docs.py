"""The docs cannot rot silently: the README stays a short front door, relative links point
at files that exist, the README's plugin examples are the files the tests run, and the
methods page lists every built-in method."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from helpers import read_records, run_cli

from grokbench import registry

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
README_MAX_LINES = 150


def _relative_links(page: Path) -> list[str]:
    """Link targets of a markdown page that are paths (no scheme, not a bare #anchor)."""
    targets = [m.group(1) for m in LINK.finditer(page.read_text(encoding="utf-8"))]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def _example_body(path: Path) -> str:
    """The example's code after its module docstring: what the README quotes."""
    text = path.read_text(encoding="utf-8")
    return text[text.index('"""', 3) + 3:].strip()


def test_readme_is_short():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; move detail to docs/"


@pytest.mark.parametrize("page", [README, *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_point_at_existing_files(page):
    missing = [t for t in _relative_links(page) if not (page.parent / t.split("#")[0]).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_link_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[a](there.md) [b](https://example.org/x.md) [c](#anchor) [d](page.md#top)\n")
    assert _relative_links(page) == ["there.md", "page.md#top"]


def test_there_are_examples_and_the_readme_quotes_each_verbatim():
    assert {p.name for p in EXAMPLES} >= {"signgd.py", "heavyball.py"}
    readme = README.read_text(encoding="utf-8")
    for path in EXAMPLES:
        assert _example_body(path) in readme, f"README.md does not quote {path.name} as it is"


@pytest.fixture
def isolated_registry(monkeypatch):
    """Whatever a test registers is gone after it."""
    registry.load_builtins()
    for table in ("_TASKS", "_METHODS", "_SOURCES"):
        monkeypatch.setattr(registry, table, dict(getattr(registry, table)))
    monkeypatch.setattr(registry, "_plugin_files", list(registry._plugin_files))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_each_example_loads_and_trains(path, tmp_path, tiny_parity, monkeypatch, isolated_registry, request):
    from grokbench import cli

    module = registry.load_plugin_file(path)
    request.addfinalizer(lambda: sys.modules.pop(module.__name__, None))  # a later load registers it afresh
    names = [obj.name for obj in vars(module).values()
             if isinstance(obj, type) and getattr(obj, "name", None) in registry.methods()
             and obj.__module__ == module.__name__]
    assert len(names) == 1
    monkeypatch.setattr(cli, "_end_of_run", lambda *a, **k: None)  # records only: skip the leaderboard
    out = tmp_path / "out"
    rc = run_cli("run", "--plugin", str(path), "--methods", names[0], "--seeds", "2", "--out", str(out),
                 "--quiet", "--no-calibrate", *tiny_parity)
    assert rc == 0
    records = [r for r in read_records(out) if r["identity"]["method"] != "sgd"]  # sgd: the added baseline
    assert [r["identity"]["method"] for r in records] == names * 2
    assert all(r["status"] in {"solved", "unsolved"} for r in records)  # trained to the end, no error


def test_methods_page_lists_every_builtin_method():
    registry.load_builtins()
    page = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`([a-z_]+)(?::[a-z_]+)?`", row.split("|")[1])}
    builtin = {name for name in registry.methods() if registry.source(name) == "builtin"}
    assert builtin and not builtin - listed, f"docs/methods.md lacks {sorted(builtin - listed)}"
