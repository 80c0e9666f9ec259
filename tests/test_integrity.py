"""Results are kept whole and never mixed: one configuration per (task, method) in a folder,
readable run logs, owned and atomic leaderboard outputs, records read defensively
(docs/robustness-integrity.md)."""

from __future__ import annotations

import json
import os
import shutil
import signal
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import TINY_PARITY, read_records, record_paths, rewrite_record, run_cli, study_request

from grokbench.errors import UserError, stop_signals
from grokbench.leaderboard.runtime import invocation_intervals
from grokbench.store import Store

SMALL = [*TINY_PARITY, "--set", "sparse_parity.max_epochs=3", "--no-calibrate"]


def _run(out: Path, *extra: str) -> int:
    return run_cli("run", "--methods", "sgd", "--seeds", "2", "--out", str(out), "--quiet", *SMALL, *extra)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """One tiny results folder (sgd, seeds 0-1), copied by each test that changes it."""
    out = tmp_path_factory.mktemp("made") / "out"
    assert _run(out) == 0
    shutil.rmtree(out / "leaderboard")
    return out


@pytest.fixture
def folder(made, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(made, out)
    return out


def _error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _add_record(out: Path, change, seed: int = 7) -> Path:
    """A copy of the folder's first record at ``seed``, changed by ``change(record)``, under a new key."""
    record = read_records(out)[0]
    record["identity"]["seed"] = seed
    change(record)
    record["key"] = f"added{seed:015d}"[-20:]
    path = out / "records" / f"{record['key']}.json"
    path.write_text(json.dumps(record))
    return path


# ------------------------------------------------- 1. one folder, one configuration per (task, method)

@pytest.mark.parametrize("extra, field", [
    (["--set", "sgd.lr=0.3"], "optimizer.params.lr"),
    (["--set", "sparse_parity.n_test=90"], "task_params.n_test"),
    (None, "after_solve"),  # a study file's after_solve = 1
])
def test_a_run_adding_another_configuration_is_refused_naming_the_difference(folder, capsys, extra, field):
    before = sorted(p.name for p in (folder / "records").iterdir())
    if extra is None:
        sets = [a for a in SMALL if a not in ("--set", "--no-calibrate")]
        path = study_request(folder.parent / "request", "sgd", "2", sets, after_solve=1)
        assert run_cli("run", path, "--out", str(folder), "--quiet") == 2
    else:
        assert _run(folder, *extra) == 2
    line = _error(capsys)
    assert "sparse_parity / sgd" in line and field in line and "records/" in line and "-> this run" in line
    assert sorted(p.name for p in (folder / "records").iterdir()) == before  # nothing trained


def test_the_same_command_resumes_and_other_methods_may_join(folder, capsys):
    before = {r["key"] for r in read_records(folder)}
    assert _run(folder, "--seeds", "3") == 0  # one more seed of the same configuration
    after = {r["key"] for r in read_records(folder)}
    assert before < after and len(after) == 3
    assert run_cli("run", "--methods", "adamw", "--seeds", "1", "--out", str(folder), "--quiet", *SMALL) == 0


def test_records_of_another_version_are_refused_by_run_and_readers(folder, capsys):
    def older(record):
        record["grokbench_version"] = record["identity"]["grokbench_version"] = "0.0.7"

    _add_record(folder, older)
    for argv in (["report", str(folder)], ["leaderboard", str(folder)]):
        assert run_cli(*argv) == 2
        line = _error(capsys)
        assert "2 configurations of sparse_parity / sgd" in line and "grokbench_version" in line
    assert _run(folder) == 2
    assert "0.0.7" in _error(capsys)


def test_a_folder_wholly_of_another_version_is_read_with_a_note(folder, capsys):
    for path, record in zip(record_paths(folder), read_records(folder)):
        record["grokbench_version"] = record["identity"]["grokbench_version"] = "0.0.7"
        rewrite_record(path, record)
    assert run_cli("report", str(folder), "--format", "json") == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 2 and "written by grokbench 0.0.7" in captured.err


def test_report_and_leaderboard_refuse_a_folder_mixing_configurations(folder, capsys):
    def other_data(record):
        record["identity"]["task_params"]["n_train"] = 150

    added = _add_record(folder, other_data)
    for argv in (["export", str(folder)], ["leaderboard", str(folder)]):
        assert run_cli(*argv) == 2
        line = _error(capsys)
        assert "task_params.n_train" in line and added.name in line
    assert not (folder / "leaderboard" / "README.md").exists()


def test_a_tuned_and_an_untuned_record_of_one_label_do_not_mix(folder, capsys):
    def tuned(record):
        record["identity"]["tuned"] = {"config": "sgd[lr=0.2]", "index": 1, "trials": 4, "tune_seeds": [1000],
                                       "folder": "t"}

    _add_record(folder, tuned)
    assert run_cli("report", str(folder)) == 2
    assert "tuned" in _error(capsys)


# ---------------------------------------------------------------------- 2. runs.jsonl as it comes

def test_runs_log_of_killed_runs_in_one_second_and_garbage_still_renders(folder, capsys):
    first = Store(folder).runs()[0]
    second = first["time"]
    lines = [
        {**first, "run_id": "killed-a"}, {**first, "run_id": "killed-b"},  # three starts in one second
        {**first, "run_id": "ends"}, {"ended": second, "run_id": "ends", "status": "completed"},
        {**first, "run_id": ["not", "hashable"]}, {"ended": {"a": 1}, "run_id": "killed-a"},
        {**first, "time": 17, "command": ["grokbench", "run"]}, {"ended": second, "run_id": None},
    ]
    with open(folder / "runs.jsonl", "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(x) + "\n" for x in lines) + '{"command": "grokbench run --see')  # cut short
    assert run_cli("leaderboard", str(folder)) == 0
    assert "run time" in (folder / "leaderboard" / "README.md").read_text()
    assert _run(folder) == 0  # its lines are appended after the cut one, on lines of their own
    runs = Store(folder).runs()
    assert runs[-1]["status"] == "completed" and runs[-1]["command"].startswith("grokbench run")


def test_invocations_starting_at_one_instant_sort_whatever_their_ends():
    t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc).isoformat()
    later = datetime(2026, 1, 2, 3, 9, 5, tzinfo=timezone.utc).isoformat()
    intervals = invocation_intervals([t, t, t], [later], [None, later, "garbage"])
    assert len(intervals) == 3 and max(end for _, end in intervals).isoformat() == later


# ----------------------------------------------------------------- 3. owned, atomic leaderboard outputs

def _owned(outdir: Path) -> set[str]:
    from grokbench.leaderboard.output import owned_files

    return owned_files(outdir)


def _page_files(outdir: Path) -> dict[str, bytes]:
    """Every file in ``outdir`` and its folders (the cell pages), by its path relative to it."""
    return {p.relative_to(outdir).as_posix(): p.read_bytes() for p in outdir.rglob("*") if p.is_file()}


def test_leaderboard_refuses_a_readme_it_did_not_write(folder, tmp_path, capsys):
    outdir = tmp_path / "site"
    outdir.mkdir()
    (outdir / "README.md").write_text("# My project\n")
    assert run_cli("leaderboard", str(folder), "-o", str(outdir)) == 2
    assert "README.md was not written by grokbench" in _error(capsys)
    assert _page_files(outdir) == {"README.md": b"# My project\n"}
    assert not any(p.name.startswith(".grokbench-staging") for p in outdir.iterdir())


def test_leaderboard_replaces_only_its_own_files(folder, tmp_path):
    outdir = tmp_path / "site"
    outdir.mkdir()
    mine = {"notes_steps.png": b"not a figure", "other_curves.png": b"mine too", "index.html": b"<p>"}
    for name, data in mine.items():
        (outdir / name).write_bytes(data)
    assert run_cli("leaderboard", str(folder), "-o", str(outdir)) == 0
    owned = _owned(outdir)
    assert "README.md" in owned and any(n.endswith("_curves.png") for n in owned) and not owned & set(mine)
    for name in owned:  # every figure the page links is there, and whole
        data = (outdir / name).read_bytes()
        assert name.endswith((".md", ".csv")) or (data.startswith(b"\x89PNG\r\n\x1a\n")
                                                  and data.endswith(b"IEND\xaeB`\x82"))
    import grokbench

    grokbench.write_leaderboard(folder, outdir, figures=False)  # tables only (no flag: the Python API)
    files = _page_files(outdir)
    assert {n: files[n] for n in mine} == mine  # the user's files, untouched
    assert not any(n.endswith(".png") for n in files if n not in mine)  # its own old figures, gone
    assert {n for n in _owned(outdir) if not n.startswith("cells/")} == {"README.md", "comparisons.csv", "results.csv"}
    assert all(n.endswith(".md") for n in _owned(outdir) if n.startswith("cells/"))


def test_a_page_written_before_manifests_counts_as_grokbench_s(folder, tmp_path):
    outdir = tmp_path / "site"
    outdir.mkdir()
    (outdir / "README.md").write_text("# grokbench leaderboard\n\n![old](gone_task_steps.png)\n")
    (outdir / "gone_task_steps.png").write_bytes(b"old figure")
    (outdir / "keep_steps.png").write_bytes(b"not linked: not ours")
    assert run_cli("leaderboard", str(folder), "-o", str(outdir)) == 0
    assert not (outdir / "gone_task_steps.png").exists() and (outdir / "keep_steps.png").exists()


def test_an_interrupt_while_drawing_leaves_the_old_page(folder, tmp_path, monkeypatch):
    outdir = tmp_path / "site"
    assert run_cli("leaderboard", str(folder), "-o", str(outdir)) == 0
    old = _page_files(outdir)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("grokbench.leaderboard.figures.plot_steps", interrupted)
    monkeypatch.setattr("grokbench.leaderboard.overview.plot_heatmap", interrupted)
    assert run_cli("leaderboard", str(folder), "-o", str(outdir)) == 130
    assert _page_files(outdir) == old and not any(p.name.startswith(".grokbench-staging") for p in outdir.iterdir())


def test_a_signal_while_publishing_waits_until_the_page_is_whole(folder, tmp_path, monkeypatch):
    from grokbench.leaderboard import write_leaderboard

    outdir = tmp_path / "site"
    real_replace, calls = os.replace, []

    def replace_then_signal(src, dst):
        real_replace(src, dst)
        calls.append(Path(dst).name)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    from grokbench.leaderboard import output

    monkeypatch.setattr(output.os, "replace", replace_then_signal)
    with stop_signals(), pytest.raises(KeyboardInterrupt):
        write_leaderboard(folder, outdir, figures=True)
    names = _owned(outdir)
    assert "README.md" in calls and names == set(_page_files(outdir)) - {output.MANIFEST}
    linked = set(__import__("re").findall(r"\]\(([^)/]+\.png)\)", (outdir / "README.md").read_text()))
    assert linked and linked <= names


# ------------------------------------------------------------------------ 4. records read defensively

@pytest.mark.parametrize("field, value", [
    ("environment.batched_seeds", "two"), ("environment.batched_configs", 0), ("trial_timeout_s", "long"),
    ("budget.max_steps", 10**25), ("metrics.t90_step", "soon"), ("eval_time_s", [1.0]),
    ("identity.tuned", {"config": "sgd", "index": 0}), ("identity.seed", 2**64), ("started_at", 5),
])
def test_records_with_unreadable_fields_are_skipped_naming_file_and_field(folder, capsys, field, value):
    def change(record):
        section, _, name = field.rpartition(".")
        (record[section.split(".")[0]] if section else record).__setitem__(name, value)

    bad = _add_record(folder, change)
    for argv in (["report", str(folder), "--format", "json"], ["leaderboard", str(folder)]):
        assert run_cli(*argv) == 0
        err = capsys.readouterr().err
        warnings = [ln for ln in err.splitlines() if ln.startswith("warning: skipping")]
        assert len(warnings) == 1 and bad.name in warnings[0] and field.split(".")[-1] in warnings[0], err
    assert _run(folder) == 0  # resume reads past it too


def test_the_largest_64_bit_seed_reaches_the_page(folder, capsys):
    _add_record(folder, lambda r: None, seed=2**63 - 1)
    assert run_cli("leaderboard", str(folder)) == 0
    assert str(2**63 - 1) in (folder / "leaderboard" / "README.md").read_text()


@pytest.mark.parametrize("seeds", ["9223372036854775808,", "9223372036854775807-9223372036854775808",
                                   "1,100000000000000000000000000"])
def test_seeds_beyond_64_bits_are_refused_at_plan_time(tmp_path, capsys, seeds):
    assert _run(tmp_path / "o", "--seeds", seeds) == 2
    assert "2**63 - 1" in _error(capsys)
    from grokbench import api

    with pytest.raises(UserError, match="2\\*\\*63"):
        api.prepare("sparse_parity", "sgd", [3, 2**70], tmp_path / "o2")


def test_non_utf8_bytes_in_the_output_path(folder, tmp_path):
    outdir = tmp_path / os.fsdecode(b"site\xfe\xff")
    assert run_cli("leaderboard", str(folder), "-o", str(outdir)) == 0
    text = (outdir / "README.md").read_bytes().decode("utf-8")  # strict: the page is UTF-8
    assert "site\\xfe\\xff" in text


def test_reproduce_page_does_not_overwrite_a_file_it_did_not_write(tmp_path, capsys):
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\nmine\n")
    args = ["reproduce", "--page-only", "--out", str(tmp_path / "res"), "--page"]
    assert run_cli(*args, str(notes)) == 2
    assert "notes.md is not a reproductions page" in _error(capsys)
    assert notes.read_text() == "# Notes\nmine\n"
    page = tmp_path / os.fsdecode(b"rep\xff.md")
    assert run_cli(*args, str(page)) == 0 and run_cli(*args, str(page)) == 0  # its own page: replaced
    assert page.read_bytes().decode("utf-8").startswith("# Paper reproductions\n")
