"""Bad input and faults, by class: one clear line, nothing lost, nothing silently wrong."""

from __future__ import annotations

import errno
import gzip
import json
import os
import stat
import subprocess
import sys

import pytest
from helpers import TINY_PARITY, read_records, run_cli

from grokbench import store as store_module


def _tiny_run(out, *extra: str) -> int:
    return run_cli("run", "--methods", "sgd", "--seeds", "2", "--out", str(out), "--quiet", *TINY_PARITY, *extra)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------- 1. records that are not ours

DAMAGED = {
    "foreign.json": b'{"foo": 1}',
    "identity_string.json": b'{"key": "k", "identity": "sparse_parity", "status": "solved"}',
    "not_utf8.json": b"\xff\xfe\x00\x81 garbage",
    "a_list.json": b"[1, 2, 3]",
    "truncated.json": b'{"key": "abc", "identity": {"task": "sp',
    "empty.json": b"",
    "not_gzip.json.gz": b"garbage",
    "truncated_gzip.json.gz": gzip.compress(b'{"key": "abc", "identity": {"task": "sparse_parity"}}')[:20],
}


def _damage(out, good: dict) -> None:
    for name, data in DAMAGED.items():
        (out / "records" / name).write_bytes(data)
    for name, change in {"curve_strings": ("curve", {"step": ["a"], "test_acc": ["b"]}),
                         "seed_text": ("identity", {**good["identity"], "seed": "zero"}),
                         "bad_status": ("status", "great"),
                         "budget_overwrites": ("budget", {"method": 3})}.items():
        bad = {**good, "key": name, change[0]: change[1]}
        (out / "records" / f"{name}.json").write_text(json.dumps(bad))


def test_damaged_records_are_skipped_by_report_leaderboard_and_run(tmp_path, capsys):
    out = tmp_path / "out"
    assert _tiny_run(out) == 0
    good = read_records(out)
    _damage(out, good[0])
    capsys.readouterr()
    assert run_cli("report", str(out), "--format", "json") == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 2
    assert captured.err.count("warning: skipping") == len(DAMAGED) + 4 and "Traceback" not in captured.err
    assert run_cli("leaderboard", str(out)) == 0
    assert _tiny_run(out) == 0  # resume: the two good trials are done, nothing re-runs
    assert "Traceback" not in capsys.readouterr().err
    kept = {f"{r['key']}.json.gz" for r in good}
    assert sorted(p.name for p in (out / "records").glob("*.json.gz") if p.name in kept) == sorted(kept)
    assert sorted(r["key"] for r in read_records(out, kept)) == sorted(r["key"] for r in good)


def test_damaged_runs_log_does_not_break_the_leaderboard(tmp_path):
    out = tmp_path / "out"
    assert _tiny_run(out) == 0
    with open(out / "runs.jsonl", "ab") as f:
        f.write(b"\xff not json\n[1]\n")
    assert run_cli("leaderboard", str(out)) == 0


# ---------------------------------------------------- 2. parameters that would change nothing

@pytest.mark.parametrize("setting", ["egd.scope=first", "adamw.lr=0.1", "sparse_sum.n=10",
                                     "sparse_parity:k5.k=4", "egd:first.eps=1e-6", "modular_addition.p=7"])
def test_set_for_something_not_in_the_run_is_refused(tmp_path, capsys, setting):
    assert _tiny_run(tmp_path / "out", "--set", setting) == 2
    assert "not in this run" in _one_line_error(capsys)
    assert not (tmp_path / "out" / "records").exists()


def test_set_for_the_base_optimizer_of_an_accelerator_applies(tmp_path):
    out = tmp_path / "out"
    assert run_cli("run", "--methods", "egd", "--seeds", "1", "--out", str(out), "--quiet", *TINY_PARITY,
                   "--set", "sgd.lr=0.05") == 0
    assert read_records(out)[0]["identity"]["optimizer"]["params"]["lr"] == 0.05


# -------------------------------------------------------------------------------- 6. sizes

@pytest.mark.parametrize("seeds", ["9" * 4000, "100001", "0-100000", ",".join(["1"] * 100_002)])
def test_absurd_seed_counts_are_refused(tmp_path, capsys, seeds):
    assert _tiny_run(tmp_path / "out", "--seeds", seeds) == 2
    _one_line_error(capsys)


# --------------------------------------------------------------- 5. output that cannot be written

def test_empty_out_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _tiny_run("") == 2
    assert "--out is empty" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_runs_log_that_cannot_be_written(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "records").mkdir(parents=True)
    (out / "runs.jsonl").mkdir()
    assert _tiny_run(out) == 2
    assert "runs.jsonl" in _one_line_error(capsys)
    assert list((out / "records").glob("*.json*")) == []


def test_disk_full_mid_run_keeps_what_was_written(tmp_path, capsys, monkeypatch):
    real_write, calls = store_module.Store.write, []

    def write_then_fill(self, record):
        if calls:
            raise OSError(errno.ENOSPC, "No space left on device")
        calls.append(record.key)
        real_write(self, record)

    monkeypatch.setattr(store_module.Store, "write", write_then_fill)
    assert run_cli("run", "--methods", "sgd,adamw", "--seeds", "2", "--out", str(tmp_path / "o"), "--quiet",
                   *TINY_PARITY) == 1
    line = _one_line_error(capsys)
    assert "No space left on device" in line and "1 record(s) written before are kept" in line
    assert [r["key"] for r in read_records(tmp_path / "o")] == calls


def test_report_to_a_full_device_is_one_line(tmp_path):
    out = tmp_path / "out"
    assert _tiny_run(out) == 0
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "grokbench", "report", str(out)], stdout=full,
                              stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "No space left on device" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------- 8. concurrent runs, claims

def test_trials_claimed_by_a_live_run_are_skipped_then_picked_up(tmp_path, capsys):
    out = tmp_path / "out"
    assert _tiny_run(out, "--seeds", "1") == 0
    from grokbench.api import prepare

    plan, store = prepare("sparse_parity", "sgd", "0-1", out, overrides=TINY_PARITY[1::2], device="cpu")
    pending = sorted(plan.keys() - store.done_keys())
    (out / "records" / f"{pending[0]}.lock").write_text(json.dumps({"host": os.uname().nodename, "pid": 1}))
    capsys.readouterr()
    assert _tiny_run(out) == 0
    assert "being run by pid 1" in capsys.readouterr().err
    assert len(read_records(out)) == 1
    (out / "records" / f"{pending[0]}.lock").unlink()
    assert _tiny_run(out) == 0 and len(read_records(out)) == 2
    assert list((out / "records").glob("*.lock")) == []


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / "records").mkdir(parents=True)
    from grokbench.api import prepare

    plan, _ = prepare("sparse_parity", "sgd", "2", out, overrides=TINY_PARITY[1::2], device="cpu")
    for key in plan.keys():
        (out / "records" / f"{key}.lock").write_text(
            json.dumps({"host": os.uname().nodename, "pid": int(dead.stdout)}))
    assert _tiny_run(out) == 0 and len(read_records(out)) == 2


# ------------------------------------------------------------ 9. outputs other tools must read

def test_report_json_is_strict_json(tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli("run", "--methods", "sgd", "--seeds", "1", "--out", str(out), "--quiet", *TINY_PARITY,
                   "--set", "sparse_parity.max_epochs=1") == 0
    capsys.readouterr()
    assert run_cli("report", str(out), "--format", "json") == 0
    text = capsys.readouterr().out

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    rows = json.loads(text, parse_constant=refuse)
    assert rows[0]["solve_step"] is None


def test_record_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        assert _tiny_run(tmp_path / "out") == 0
    finally:
        os.umask(old)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "out" / "records").glob("*.json*")}
    assert modes == {0o644}


def test_leaderboard_onto_a_file_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert _tiny_run(out) == 0
    (tmp_path / "afile").write_text("x")
    capsys.readouterr()
    assert run_cli("leaderboard", str(out), "-o", str(tmp_path / "afile")) == 2
    assert "cannot write leaderboard folder" in _one_line_error(capsys)
    assert (tmp_path / "afile").read_text() == "x"


# --------------------------------------------------- 3. right type, impossible meaning

@pytest.mark.parametrize("setting, says", [
    ("sparse_parity.k=30", "k <= n"), ("sparse_parity.n=0", "sparse_parity.n must be in [1, "),
    ("sparse_parity.batch_size=-4", "batch_size must be in [0, "), ("sparse_parity.target=1.5", "in (0, 1]"),
    ("sparse_parity.max_epochs=0", "max_epochs must be in [1, "), ("sparse_parity.eval_every=0", "in (0, "),
    ("sgd.lr=-0.1", "sgd.lr must be in (0, "), ("sgd.lr=nan", "finite"), ("sgd.lr=inf", "finite"),
    ("sgd.weight_decay=-1", "in [0, "),
])
def test_impossible_values_are_refused_at_plan_time(tmp_path, capsys, setting, says):
    assert _tiny_run(tmp_path / "out", "--set", setting) == 2
    assert says in _one_line_error(capsys)
    assert not (tmp_path / "out" / "records").exists()


@pytest.mark.parametrize("method, setting, says", [
    ("grokfast", "grokfast.alpha=1.5", "in [0, 1)"), ("grokfast_ma", "grokfast_ma.window=0", "in [1, "),
    ("neuralgrok", "neuralgrok.outer_fraction=2", "outer_fraction"), ("adamw", "adamw.betas=0.9,1.2", "betas"),
    ("adamw", "adamw.betas=0.9", "a list of 2 values"),
])
def test_impossible_method_values_are_refused(tmp_path, capsys, method, setting, says):
    assert run_cli("run", "--methods", method, "--seeds", "1", "--out", str(tmp_path / "o"), "--quiet",
                   *TINY_PARITY, "--set", setting) == 2
    assert says in _one_line_error(capsys)


@pytest.mark.parametrize("setting, says", [
    ("modular_addition.p=1", "in [2, "), ("modular_addition.n_heads=5", "multiple of n_heads"),
    ("modular_addition.train_frac=1.5", "train_frac"),
])
def test_impossible_transformer_values_are_refused(tmp_path, capsys, setting, says):
    assert run_cli("run", "--tasks", "modular_addition", "--methods", "adamw", "--seeds", "1",
                   "--out", str(tmp_path / "o"), "--quiet", "--set", setting) == 2
    assert says in _one_line_error(capsys)
