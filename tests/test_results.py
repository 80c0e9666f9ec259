"""Browsable results: the export (CSV, Parquet), the per-cell pages the leaderboard's numbers
link to, results.csv beside the page, compact records (and old ones still read), and
checkpoints that git never takes."""

from __future__ import annotations

import csv
import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import run_cli

import grokbench
from grokbench import recordfile
from grokbench.leaderboard import MAIN_COLUMNS
from grokbench.leaderboard.links import cell_names, safe_name
from grokbench.leaderboard.output import MANIFEST, owned_files, publish
from grokbench.record import Record
from grokbench.store import Store

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "leaderboard" / "untuned" / "records"  # old-format records, committed
BUDGET_STEPS, EVAL_EVERY = 80, 10
WEIRD = "grokfast[alpha=0.9,lamb=2]+egd@sgd"
TWIN = "grokfast(alpha=0.9,lamb=2)+egd@sgd"  # the same plain name as WEIRD
SOLVES = {"sgd": [40, 50, None], WEIRD: [20, 30, 30], TWIN: [30, None, 20]}  # None: unsolved
PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _record(method: str, seed: int, solve: int | None) -> dict:
    last = solve if solve is not None else BUDGET_STEPS
    steps = list(range(0, last + 1, EVAL_EVERY))
    ramp = [min(1.0, s / last) for s in steps]
    lr = {"sgd": 0.1, WEIRD: 0.2, TWIN: 0.3}[method]
    return {
        "key": f"key-{list(SOLVES).index(method)}-{seed}", "status": "solved" if solve else "unsolved",
        "identity": {"task": "sparse_parity", "preset": None, "method": method, "seed": seed,
                     "grokbench_version": "0.1.0",
                     "task_params": {"n": 10, "k": 3}, "optimizer": {"name": "sgd", "params": {"lr": lr}},
                     "transforms": [] if method == "sgd" else [{"name": "grokfast", "params": {"alpha": 0.9}}],
                     "base": "sgd", "parts": [], "baseline": "sgd"},
        "environment": {"device": "cpu", "threads": 1},
        "metrics": {"solve_step": solve, "train_time_s": last * 0.01},
        "budget": {"budget_steps": BUDGET_STEPS, "budget_epochs": BUDGET_STEPS / 2, "steps_per_epoch": 2,
                   "target": 0.9},
        "curve": {"step": steps, "train_acc": ramp, "test_acc": ramp},
        "grokbench_version": "0.1.0",
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """sgd's records in the old format (plain JSON), the two odd labels' compact."""
    root = tmp_path_factory.mktemp("browse") / "results"
    store = Store(root, create=True)
    for method, solves in SOLVES.items():
        for seed, solve in enumerate(solves):
            record = _record(method, seed, solve)
            if method == "sgd":
                (store.records_dir / f"{record['key']}.json").write_text(json.dumps(record))
            else:
                store.write(Record.from_json(record))
    return root


# ------------------------------------------------------------------------------ export

def test_export_writes_a_row_per_trial_with_settings_and_metrics(folder, tmp_path, capsys):
    out = tmp_path / "all.csv"
    assert run_cli("export", str(folder), "-o", str(out)) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == sum(len(s) for s in SOLVES.values())
    for column in ("task", "method", "seed", "status", "solve_step", "solve_epoch", "train_time_s", "task.n",
                   "optimizer", "optimizer.lr", "transforms", "grokfast.alpha", "budget_steps", "record_file"):
        assert column in rows[0], column
    for row in rows:
        solve = SOLVES[row["method"]][int(row["seed"])]
        assert row["solve_step"] == ("" if solve is None else str(solve))
        assert row["status"] == ("solved" if solve else "unsolved")
        assert float(row["optimizer.lr"]) == {"sgd": 0.1, WEIRD: 0.2, TWIN: 0.3}[row["method"]]
        assert (folder / row["record_file"]).is_file()
    assert {Path(r["record_file"]).suffix for r in rows} == {".json", ".gz"}  # both formats read
    capsys.readouterr()
    assert run_cli("export", str(folder)) == 0  # no -o: the same CSV on standard output
    assert capsys.readouterr().out == out.read_text()


def test_parquet_without_pyarrow_is_a_one_line_error(folder, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    out = tmp_path / "all.parquet"
    assert run_cli("export", str(folder), "-o", str(out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pyarrow" in err[0] and not out.exists()


def test_parquet_round_trip(folder, tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    out = tmp_path / "all.parquet"
    assert run_cli("export", str(folder), "-o", str(out)) == 0
    back = pd.read_parquet(out)
    assert len(back) == 9 and {"task.n", "optimizer.lr", "solve_step", "record_file"} <= set(back.columns)
    assert sorted(zip(back["method"], back["seed"])) == sorted((m, s) for m in SOLVES for s in range(3))


def test_report_no_longer_takes_csv(folder, capsys):
    assert run_cli("report", str(folder), "--format", "csv") == 2
    assert "invalid choice" in capsys.readouterr().err


# ---------------------------------------------------------------------- cell pages

def _links(page: Path) -> list[str]:
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", page.read_text()) if "://" not in t]


def test_leaderboard_cells_link_every_number_and_resolve(folder, tmp_path, capsys):
    out = tmp_path / "page"
    assert run_cli("leaderboard", str(folder), "-o", str(out)) == 0
    readme = out / "README.md"
    cells = sorted(p.relative_to(out).as_posix() for p in (out / "cells").rglob("*") if p.is_file())
    assert set(cells) <= owned_files(out) and {"results.csv", "README.md"} <= owned_files(out)
    pages = [c for c in cells if c.endswith(".md")]
    assert len(pages) == 3 and len([c for c in cells if c.endswith(".png")]) == 3
    assert all(PLAIN.fullmatch(part) for c in cells for part in c.split("/"))
    for page in [readme, *(out / p for p in pages)]:
        for target in _links(page):
            assert (page.parent / target.split("#")[0]).resolve().exists(), (page, target)
    header = "| " + " | ".join(MAIN_COLUMNS) + " |"
    table = readme.read_text().split(header, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    assert len(table) == 3
    for line in table:  # every number but the rank is a link, to its method's page
        rank, method, *numbers = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert method in SOLVES and all(c.startswith("[") for c in numbers if re.search(r"\d", c)), line
        assert len({t for t in re.findall(r"\]\(([^)]+)\)", line)}) == 1
    weird = [(out / p).read_text() for p in pages if p.startswith("cells/sparse_parity/grokfast")]
    assert len(weird) == 2 and {WEIRD in w for w in weird} == {True, False}  # two files, one label each
    for text in weird + [(out / "cells/sparse_parity/sgd.md").read_text()]:
        assert text.count("records/") == 3  # a link to each seed's record


def test_results_csv_beside_the_page_is_the_export_less_the_page_left_out(folder, tmp_path, capsys):
    import io

    import pandas as pd

    from grokbench.export import PAGE_LEFT_OUT, PAGE_LEFT_OUT_PREFIXES

    out = tmp_path / "page"
    grokbench.write_leaderboard(folder, out, figures=False)  # tables only: the Python API
    assert not list((out / "cells").rglob("*.png"))
    capsys.readouterr()
    assert run_cli("export", str(folder)) == 0
    export = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str, keep_default_na=False)
    page = pd.read_csv(out / "results.csv", dtype=str, keep_default_na=False)
    left_out = [c for c in export.columns if c in PAGE_LEFT_OUT or c.startswith(PAGE_LEFT_OUT_PREFIXES)]
    assert {"task.n", "host", "record_file"} <= set(left_out)  # present in the export, so the test bites
    assert list(page.columns) == [c for c in export.columns if c not in left_out]
    assert {"key", "device_name", "solve_step", "optimizer.lr"} <= set(page.columns)
    pd.testing.assert_frame_equal(page, export[list(page.columns)])  # the same rows, values as printed


def test_default_settings_section_links_the_defaults_cells(folder, tmp_path):
    out = tmp_path / "page"
    assert run_cli("leaderboard", str(folder), "-o", str(out), "--defaults", str(folder)) == 0
    section = (out / "README.md").read_text().split("## Default settings", 1)[1]
    targets = set(re.findall(r"\]\((defaults/cells/[^)]+)\)", section))
    assert len(targets) == 3 and all((out / t).is_file() for t in targets)


def test_cell_names_are_plain_and_collision_free():
    labels = [WEIRD, TWIN, "Adam", "adam", "a/b", "..", "", "-x", "grokfast_alpha_0.9_lamb_2_egd_sgd"]
    names = cell_names({"sparse_parity [max_epochs=60]": SimpleNamespace(methods=dict.fromkeys(labels))})
    (task, paths), = names.items()
    stems = [p.split("/")[-1] for p in paths.values()]
    assert len({s.lower() for s in stems}) == len(labels)  # distinct, also where case is ignored
    assert all(PLAIN.fullmatch(part) for p in paths.values() for part in p.split("/"))
    assert safe_name("sparse_parity [max_epochs=60]") == "sparse_parity_max_epochs_60"


def test_publish_puts_nested_files_and_removes_emptied_folders(tmp_path):
    out, staged = tmp_path / "out", tmp_path / "staged"

    def stage(*names: str) -> list[str]:
        for name in names:
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            (staged / name).write_text("# grokbench leaderboard\n")
        return list(names)

    out.mkdir()
    publish(staged, out, stage("README.md", "cells/t/a.md", "cells/u/b.md"))
    assert (out / "cells/u/b.md").is_file() and "cells/u/b.md" in json.loads((out / MANIFEST).read_text())["files"]
    publish(staged, out, stage("README.md", "cells/t/a.md"))
    assert not (out / "cells" / "u").exists() and (out / "cells/t/a.md").is_file()


def test_a_linked_cells_folder_is_refused(folder, tmp_path, capsys):
    out, elsewhere = tmp_path / "page", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "cells").symlink_to(elsewhere)
    assert run_cli("leaderboard", str(folder), "-o", str(out)) == 2
    assert "cells" in capsys.readouterr().err and not list(elsewhere.iterdir())


# ------------------------------------------------------------------- compact records

def _published() -> Path:
    """A committed old-format record whose file is named by its key (no migrated key)."""
    return next(p for p in sorted(PUBLISHED.glob("*.json")) if Record.from_json(json.loads(p.read_text())).key == p.stem)


def test_compact_record_reads_back_what_was_written(tmp_path):
    original = Record.from_json(json.loads(_published().read_text()))
    store = Store(tmp_path, create=True)
    store.write(original)
    (back,) = store.records()
    assert back.to_json() == original.to_json() and back.file == f"{original.key}.json.gz"
    assert json.loads(gzip.decompress(store.path(original.key).read_bytes())) == original.to_json()


def test_old_format_record_is_read_and_replaced_when_rewritten(tmp_path):
    store = Store(tmp_path, create=True)
    shutil.copy(_published(), store.records_dir)
    (old,) = store.records()
    assert old.file == _published().name and Record.from_json(json.loads(_published().read_text())) == old
    store.write(old)
    assert [p.name for p in store.records_dir.iterdir()] == [f"{old.key}.json.gz"]
    assert store.records() == [old]


def test_compact_record_is_smaller():
    plain = _published().read_bytes()
    compact = recordfile.encode_record(Record.from_json(json.loads(plain)))
    assert len(compact) < 0.8 * len(plain)


def test_a_record_inflating_beyond_the_limit_is_skipped(tmp_path, monkeypatch, capsys):
    store = Store(tmp_path, create=True)
    (store.records_dir / "big.json.gz").write_bytes(gzip.compress(b" " * 5000))
    monkeypatch.setattr(recordfile, "MAX_RECORD_BYTES", 1000)
    assert store.records() == []
    assert "inflates" in capsys.readouterr().err


# ------------------------------------------------------------------------ checkpoints

def test_checkpoints_of_any_results_folder_are_ignored_by_git(tmp_path):
    if shutil.which("git") is None or subprocess.run(["git", "-C", str(REPO), "rev-parse"],
                                                     capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    name = Store(tmp_path, create=True).checkpoints_dir.name
    paths = [f"{root}/{name}/{file}" for root in ("results", "tuning", "leaderboard/tuned", "a/b/c",
                                                  "reproductions-results/claim/experiment")
             for file in ("cell.pt", "cell.json", ".cell.pt.123.tmp")]
    done = subprocess.run(["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"],
                          input="\n".join(paths), capture_output=True, text=True)
    assert sorted(done.stdout.split()) == sorted(paths), "checkpoint paths git would take: " + \
        ", ".join(sorted(set(paths) - set(done.stdout.split())))
