"""The docs cannot rot silently: the README stays a short front door, relative links point
at files that exist, the README's plugin examples are the files the tests run, and the
methods page lists every built-in method."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

import pytest
from helpers import read_records, run_cli, study_request

from grokbench import registry
from grokbench.cli_args import build_parser
from grokbench.errors import UserError

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
    study = study_request(out, names[0], "2", tiny_parity, baseline=False, plugin_files=[str(path)])
    rc = run_cli("run", study, "--quiet", "--no-calibrate")
    assert rc == 0
    records = read_records(out)
    assert [r["identity"]["method"] for r in records] == names * 2
    assert all(r["status"] in {"solved", "unsolved"} for r in records)  # trained to the end, no error


def test_methods_page_lists_every_builtin_method():
    registry.load_builtins()
    page = (ROOT / "docs" / "methods.md").read_text(encoding="utf-8")
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`([a-z_]+)(?::[a-z_]+)?`", row.split("|")[1])}
    builtin = {name for name in registry.methods() if registry.source(name) == "builtin"}
    assert builtin and not builtin - listed, f"docs/methods.md lacks {sorted(builtin - listed)}"


# --- the commands the docs show parse with the CLI as it is -------------------------------

DOC_PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
SHELL_BLOCKS = {"", "bash", "sh", "shell", "console"}  # ```text (output, the synopsis), ```python, ```toml: not commands
HISTORICAL = "# as run then"  # a command recorded as it ran, whose flags have changed since
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SHELL_OPERATORS = {">", ">>", "2>", "|", "&&", "||", ";", "&"}
GROKBENCH_COMMAND = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*=\S*\s+)*grokbench(\s|$)")
OPTION = re.compile(r"(?<![\w.-])(--?[a-z][a-z0-9-]*)")


def shell_commands(text: str) -> list[tuple[int, str]]:
    """(line number, command) of every line of the page's shell code blocks, a `$ ` prompt
    dropped and backslash continuations joined (numbered by their first line)."""
    commands: list[tuple[int, str]] = []
    fence, pending, start = None, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        opening = FENCE.match(line)
        if opening and fence is None:
            fence = (opening.group(1), opening.group(2).lower())
            continue
        if fence is not None and line.strip().startswith(fence[0]):
            fence = None
            continue
        if fence is None or fence[1] not in SHELL_BLOCKS:
            continue
        if not pending:
            start, line = number, line.strip().removeprefix("$ ")
        pending += line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        commands.append((start, pending))
        pending = ""
    return commands


def grokbench_argv(command: str) -> list[str] | None:
    """The words after `grokbench` (environment assignments before it dropped, a comment and
    anything from a redirection or pipe on left out); None for a command not grokbench's."""
    if not GROKBENCH_COMMAND.match(command):
        return None
    words = shlex.split(command, comments=True)  # ValueError: a quote left open
    while words and ENV_ASSIGNMENT.match(words[0]):
        words.pop(0)
    if not words or words[0] != "grokbench":
        return None
    argv: list[str] = []
    for word in words[1:]:
        if word in SHELL_OPERATORS:
            break
        argv.append(word)
    return argv


def parse_error(argv: list[str]) -> str | None:
    """None when today's parser takes ``argv``, else its one-line complaint. A `...` is
    refused: argparse would take it as a path, so a doc must write the whole command."""
    if any("..." in word for word in argv):
        return "a placeholder '...': write the whole command"
    try:
        build_parser().parse_args(argv)
    except UserError as exc:
        return str(exc)
    except SystemExit as exc:  # --help, --version
        return None if exc.code == 0 else f"exit {exc.code}"
    return None


def doc_command_problems(text: str) -> list[str]:
    """One line per grokbench command of a page's shell blocks that today's parser refuses,
    and per command marked `# as run then` that it takes (the mark is then stale)."""
    problems = []
    for number, command in shell_commands(text):
        try:
            argv = grokbench_argv(command)
        except ValueError as exc:
            problems.append(f"line {number}: {command!r}: not a shell command ({exc})")
            continue
        if argv is None:
            continue
        error, historical = parse_error(argv), command.rstrip().endswith(HISTORICAL)
        if historical and error is None:
            problems.append(f"line {number}: marked '{HISTORICAL}' but parses today; drop the mark")
        elif error and not historical:
            problems.append(f"line {number}: {command!r}: {error}")
    return problems


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: p.name)
def test_doc_commands_parse_with_todays_cli(page):
    problems = doc_command_problems(page.read_text(encoding="utf-8"))
    assert not problems, f"{page.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_doc_command_check_can_fail():
    page = "\n".join([
        "```bash",                                              # 1
        "grokbench run --tasks sparse_parity -j 2",             # 2: a removed flag
        "grokbench run --executor process:2 \\",                # 3: continued ...
        "    --no-baseline",                                    # 4  ... onto a removed flag
        "grokbench report DIR --format csv",                    # 5: a removed choice
        "grokbench run ... --tuned T",                          # 6: a placeholder
        "grokbench export DIR -o x.csv  # as run then",         # 7: a stale mark
        "OMP_NUM_THREADS=1 grokbench run --seeds 2 > log  # ok",
        "$ grokbench run --executor process -j 2  # as run then",
        "grokbench run --executor process:0",                   # 10: a bad spec
        "grokbench tune --tasks ... [run's options]",           # 11: not a command (a synopsis)
        "pip install 'grokbench[ray]'",
        "```",
        "```python",
        "grokbench run --jobs 2",
        "```",
    ])
    problems = doc_command_problems(page)
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 5", "line 6", "line 7", "line 10",
                                                  "line 11"]
    assert "--no-baseline" in problems[1] and "drop the mark" in problems[4]


def synopsis_problems(text: str, parser) -> list[str]:
    """Where the synopsis (the ```text block of entries `grokbench COMMAND ...`, continued on
    indented lines) and the parser disagree: a command or option one has and the other lacks."""
    block = re.search(r"^```text\n(.*?)^```", text, re.S | re.M)
    entries: dict[str, str] = {}
    command = None
    for line in (block.group(1) if block else "").splitlines():
        if line.startswith("grokbench "):
            command = line.split()[1]
            entries[command] = entries.get(command, "") + " " + line
        elif line.startswith(" ") and command:
            entries[command] += " " + line
        else:
            command = None
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    problems = [f"synopsis lacks `grokbench {name}`" for name in commands if name not in entries]
    problems += [f"synopsis has `grokbench {name}`, the parser not" for name in entries if name not in commands]
    for name in sorted(set(entries) & set(commands)):
        shown = set(OPTION.findall(entries[name]))
        actions = [a for a in commands[name]._actions if a.option_strings and "--help" not in a.option_strings]
        known = {o for a in actions for o in a.option_strings}
        problems += [f"{name}: synopsis shows {o}, which the parser lacks" for o in sorted(shown - known)]
        problems += [f"{name}: synopsis lacks {a.option_strings[-1]}" for a in actions
                     if not shown & set(a.option_strings)]
    return problems


def test_the_commands_synopsis_matches_the_parser():
    problems = synopsis_problems((ROOT / "docs" / "commands.md").read_text(encoding="utf-8"), build_parser())
    assert not problems, "docs/commands.md's synopsis:\n" + "\n".join(problems)


def test_the_synopsis_check_can_fail():
    synopsis = ("```text\ngrokbench report DIR [--format table|json|csv] [--no-figures]\n"
                "grokbench export DIR\n   [-o FILE]\ngrokbench frobnicate\n```\n")
    problems = synopsis_problems(synopsis, build_parser())
    assert "report: synopsis shows --no-figures, which the parser lacks" in problems
    assert "synopsis has `grokbench frobnicate`, the parser not" in problems
    assert "synopsis lacks `grokbench run`" in problems
    assert not any(p.startswith("export") for p in problems)  # -o on a continued line counts
