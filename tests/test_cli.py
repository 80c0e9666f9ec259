"""The command line: grammar, bad input (exit 2, one line, no traceback), report, resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import read_records, record_paths, run_cli

from grokbench.store import Store

BAD_INPUTS = [
    (["--tasks", "nope"], "unknown task 'nope'"),
    (["--tasks", "sparse_parity:k9"], "no preset 'k9'"),
    (["--methods", "nope"], "unknown method 'nope'"),
    (["--set", "sparse_parity.depth=3"], "no parameter 'depth'"),
    (["--set", "sgd.lr"], "malformed"),
    (["--set", "lr=3"], "malformed"),
    (["--set", "nothing.lr=3"], "no task or method"),
    (["--set", "sparse_parity.n=abc"], "expected an integer"),
    (["--set", "sgd.lr=fast"], "expected a number"),
    (["--seeds", "x"], "--seeds 'x' is malformed"),
    (["--seeds", "5-2"], "is malformed"),
    (["--seeds", "0"], "is malformed"),
    (["--device", "tpu"], "--device 'tpu'"),
    (["--plugin", "/nonexistent/plugin.py"], "does not exist"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    rc = run_cli("run", "--out", str(out), "--quiet", *args)
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (out / "records").exists()  # nothing was started


def test_plugin_that_fails_to_import_names_file_and_error(tmp_path, capsys):
    bad = tmp_path / "broken.py"
    bad.write_text("import not_a_module_anywhere\n")
    rc = run_cli("run", "--plugin", str(bad), "--out", str(tmp_path / "o"))
    err = capsys.readouterr().err
    assert rc == 2 and "broken.py" in err and "not_a_module_anywhere" in err
    assert len(err.strip().splitlines()) == 1


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    rc = run_cli("run", "--out", str(blocker / "sub"), "--quiet", "--seeds", "1")
    err = capsys.readouterr().err
    assert rc == 2 and "cannot write results folder" in err


def test_bad_input_leaves_existing_results_untouched(tmp_path, tiny_parity, capsys):
    out = tmp_path / "out"
    assert run_cli("run", "--methods", "sgd", "--seeds", "1", "--out", str(out), "--quiet", *tiny_parity) == 0
    before = {p.name: p.read_bytes() for p in (out / "records").iterdir()}
    assert run_cli("run", "--methods", "nope", "--out", str(out), "--quiet") == 2
    assert {p.name: p.read_bytes() for p in (out / "records").iterdir()} == before


def test_real_cli_process_exits_2_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "grokbench", "run", "--tasks", "nope", "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "unknown task" in proc.stderr


def test_run_report_and_rerun_skips_done_trials(tmp_path, tiny_parity, capsys):
    out = tmp_path / "out"
    args = ["run", "--methods", "sgd,adamw", "--seeds", "3", "--out", str(out), "--quiet", *tiny_parity]
    assert run_cli(*args) == 0
    capsys.readouterr()
    assert run_cli("report", str(out), "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 6
    keys = {"task", "method", "seed", "status", "fit_step", "t90_step", "solve_step", "fit_epoch", "t90_epoch",
            "solve_epoch", "plateau_steps", "plateau_epochs", "train_time_s", "time_to_target_s", "preset",
            "task_params", "optimizer_params"}
    assert all(keys <= set(r) for r in rows)
    assert {(r["method"], r["seed"]) for r in rows} == {(m, s) for m in ("sgd", "adamw") for s in range(3)}
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "records").iterdir()}
    assert run_cli(*args) == 0
    assert {p: p.stat().st_mtime_ns for p in (out / "records").iterdir()} == mtimes
    runs = Store(out).runs()
    assert [r["to_run"] for r in runs] == [6, 0]
    assert [r["status"] for r in runs] == ["completed", "completed"]  # each start line matched its end line
    assert all(r["ended"] >= r["time"] for r in runs)
    for argv in (["report", str(out), "--format", "table"], ["export", str(out)]):
        assert run_cli(*argv) == 0
        assert "sgd" in capsys.readouterr().out


def test_report_on_a_missing_folder_is_a_user_error(tmp_path, capsys):
    assert run_cli("report", str(tmp_path / "none")) == 2
    assert "not a grokbench results folder" in capsys.readouterr().err


def test_list_shows_tasks_presets_and_methods(capsys):
    assert run_cli("list") == 0
    text = capsys.readouterr().out
    for word in ("sparse_parity", ":k5", "sgd", "adamw", "ACC[+ACC...][@BASE]"):
        assert word in text


def test_error_records_are_retried(tmp_path, tiny_parity):
    out = tmp_path / "out"
    plugin = tmp_path / "flaky.py"
    flag = tmp_path / "fail-once"
    flag.write_text("")
    plugin.write_text(
        "import pathlib\nfrom grokbench import Transform, register\n\n"
        "@register\nclass Flaky(Transform):\n    name = 'flaky_test'\n"
        "    def update(self, grads, params, state, ctx):\n"
        f"        if pathlib.Path({str(flag)!r}).exists():\n            raise RuntimeError('boom')\n"
        "        return grads\n"
    )
    args = ["run", "--plugin", str(plugin), "--methods", "flaky_test,sgd", "--seeds", "2", "--out", str(out),
            "--quiet", *tiny_parity]
    assert run_cli(*args) == 0
    by_method = {}
    for r in read_records(out):
        by_method.setdefault(r["identity"]["method"], []).append(r["status"])
    assert by_method["flaky_test"] == ["error", "error"]
    assert len(by_method["sgd"]) == 2 and "error" not in by_method["sgd"]
    assert all("RuntimeError: boom" in r["error"] for r in read_records(out) if r["status"] == "error")
    flag.unlink()
    assert run_cli(*args) == 0
    records = read_records(out)
    assert len(records) == 4 and not any(r["status"] == "error" for r in records)


def test_sigkilled_run_resumes_with_every_trial_once(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "grokbench", "run", "--methods", "sgd,adamw", "--seeds", "6", "--batch-seeds", "1",
           "--out", str(out), "--set", "sparse_parity.n_train=200", "--set", "sparse_parity.max_epochs=30"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(record_paths(out)) < 2:  # records in place, not temporary files
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = len(record_paths(out))
    assert 2 <= partial < 12
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    records = read_records(out)
    assert sorted((r["identity"]["method"], r["identity"]["seed"]) for r in records) == sorted(
        (m, s) for m in ("sgd", "adamw") for s in range(6))
    assert not list((out / "records").glob(".*.tmp"))
