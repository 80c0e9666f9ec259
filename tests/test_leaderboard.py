"""The leaderboard on a small real run: header, one table per task, figures that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import run_cli

from grokbench.leaderboard import MAIN_COLUMNS

# Tiny and fast; the lowered target makes some seeds solve and others not (censored).
SMALL = [
    "--tasks", "sparse_parity", "--methods", "sgd,adamw", "--seeds", "3",
    "--set", "sparse_parity.max_epochs=8", "--set", "sparse_parity.n_train=200",
    "--set", "sparse_parity.n_test=100", "--set", "sparse_parity.target=0.55",
]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lb") / "results"
    assert run_cli("run", *SMALL, "--out", str(out), "--quiet") == 0
    return out


def _check(readme: Path) -> str:
    text = readme.read_text()
    assert text.startswith("# grokbench leaderboard")
    for field in ("| command |", "| grokbench |", "| git commit |", "| torch |", "| device |", "| seeds |"):
        assert field in text, field
    assert "grokbench run --tasks sparse_parity --methods sgd,adamw --seeds 3" in text
    assert "**Steps to target**" in text and "**Tests**" in text
    assert text.count("\n## ") == 1  # one task
    header = "| " + " | ".join(MAIN_COLUMNS) + " |"
    assert text.count(header) == 1
    table = text.split(header, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    assert {line.split(" | ")[1] for line in table} == {"sgd", "adamw"}
    assert not re.search(r"\bnan\b", text, re.I)
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) == 2
    for image in images:
        assert not Path(image).is_absolute()
        assert (readme.parent / image).is_file(), image
    return text


def test_run_writes_leaderboard_next_to_results(small_run, capsys):
    _check(small_run / "leaderboard" / "README.md")


def test_leaderboard_command(small_run, tmp_path, capsys):
    out = tmp_path / "board"
    assert run_cli("leaderboard", str(small_run), "-o", str(out)) == 0
    printed = capsys.readouterr().out
    assert "sparse_parity" in printed and "baseline: sgd" in printed
    text = _check(out / "README.md")
    assert "### sparse_parity: wall time" in text


def test_leaderboard_is_reproducible(small_run, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("leaderboard", str(small_run), "-o", str(a), "--quiet", "--no-figures") == 0
    assert run_cli("leaderboard", str(small_run), "-o", str(b), "--quiet", "--no-figures") == 0

    def body(p: Path) -> list[str]:  # all but the time stamps
        return [line for line in (p / "README.md").read_text().splitlines()
                if "Generated" not in line and "| generated |" not in line and "-o " not in line]

    assert body(a) == body(b)


def test_leaderboard_on_missing_folder_is_a_user_error(tmp_path, capsys):
    assert run_cli("leaderboard", str(tmp_path / "nope")) == 2
    assert "not a grokbench results folder" in capsys.readouterr().err
