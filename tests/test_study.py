"""The study file: one value for a run request, written as DIR/study.toml, read back
exactly, accumulated per folder, rerun, and read by the leaderboard (docs/study.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import TINY_PARITY, read_records, run_cli

from grokbench import api
from grokbench import study as S
from grokbench.errors import UserError
from grokbench.plan import build_plan
from grokbench.spec import parse_overrides
from grokbench.tomltext import dumps as toml_dumps
from grokbench.tomltext import loads as toml_loads

TINY = ["--quiet", "--no-calibrate", *TINY_PARITY]


def _study(methods: str = "egd,grokfast+egd@adamw,adamw[betas=(0.9,0.98)]") -> tuple[S.Study, object]:
    api.load_plugins([])
    overrides = ["sparse_parity.max_epochs=7", "sgd.lr=0.3"]
    plan = build_plan("sparse_parity,sparse_sum", methods, "0-2", parse_overrides(overrides), baseline=True)
    return S.from_plan(plan, S.Request("sparse_parity,sparse_sum", methods, "0-2", tuple(overrides))), plan


def test_a_study_round_trips_through_toml_text():
    study, plan = _study()
    back = S.loads(S.dumps([study]), "study.toml")
    assert back == [study]
    assert back[0].plan == plan and back[0].plan.keys() == plan.keys()
    keys = [c.keys() for c in plan.cells(set(), 4)]
    assert [c.keys() for c in back[0].plan.cells(set(), 4)] == keys
    betas = {m.label: m.optimizer.params.get("betas") for _, m in back[0].pairs}
    assert betas["adamw[betas=(0.9,0.98)]"] == (0.9, 0.98)  # a tuple stays a tuple
    assert back[0].origins.count(S.ADDED_BASELINE) == 2 and S.CONTROL not in back[0].origins


def test_the_toml_writer_round_trips_awkward_values():
    table = {"a": 0.1 + 0.2, "b": [1e-300, -0.0, math.inf, 2**62], "s": 'q"\\\n\t\x01é', "t": True,
             "odd key": {"x": [], "__tuple__": 1} | {}, "rows": [{"n": 1}, {"n": 2, "sub": {"z": "y"}}]}
    table["odd key"] = {"x": []}
    back = toml_loads(toml_dumps(table), "t")
    assert back == table and math.copysign(1, back["b"][1]) == -1


def test_a_study_holds_the_stability_window_settings_as_task_settings():
    study, _ = _study("sgd")
    task = study.pairs[0][0]
    assert {"sustain_evals", "sustain_frac", "hold_band", "tail_frac"} <= set(task.params)


def test_a_rerun_does_not_resolve_again(monkeypatch):
    """A study read back gives the same keys even after a default changes."""
    study, plan = _study("sgd")
    text = S.dumps([study])
    from grokbench import registry

    monkeypatch.setitem(registry.get_method("sgd").defaults, "lr", 0.777)
    assert S.loads(text, "x")[0].plan.keys() == plan.keys()
    assert build_plan("sparse_parity,sparse_sum", "sgd", "0-2", {}).keys() != plan.keys()


def test_run_writes_the_study_and_a_rerun_trains_nothing_more(tmp_path):
    out = tmp_path / "out"
    assert run_cli("run", "--methods", "sgd", "--seeds", "2", "--out", str(out), *TINY) == 0
    parts = S.read(out / "study.toml")
    assert len(parts) == 1 and parts[0].request.methods == "sgd" and parts[0].compare == "baseline"
    keys = {r["key"] for r in read_records(out)}
    assert keys == parts[0].plan.keys()
    runs = (out / "runs.jsonl").read_text()
    assert run_cli("run", str(out / "study.toml"), *TINY[:2]) == 0
    assert {r["key"] for r in read_records(out)} == keys
    logged = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()[len(runs.splitlines()):]]
    assert [line["to_run"] for line in logged if "to_run" in line] == [0]  # the rerun had nothing to train
    new = tmp_path / "new"
    assert run_cli("run", str(out / "study.toml"), "--out", str(new), *TINY[:2]) == 0
    assert {r["key"] for r in read_records(new)} == keys
    assert S.read(new / "study.toml") == parts


def test_runs_into_one_folder_accumulate_parts(tmp_path):
    out = tmp_path / "out"
    base = ["--seeds", "1", "--out", str(out), *TINY]
    assert run_cli("run", "--methods", "sgd", *base) == 0
    assert run_cli("run", "--methods", "adamw", "--compare", "all-pairs", *base) == 0
    assert run_cli("run", "--methods", "sgd", *base) == 0  # the same request again: no new part
    parts = S.read(out / "study.toml")
    assert [p.request.methods for p in parts] == ["sgd", "adamw"] and parts[1].compare == "all-pairs"
    assert {r["key"] for r in read_records(out)} == parts[0].plan.keys() | parts[1].plan.keys()


@pytest.mark.parametrize("edit, says", [
    (lambda t: t.replace('compare = "baseline"', 'compare = "baseline"\ncolour = "red"'), "part[0].colour is not a field"),
    (lambda t: t.replace("after_solve = 0", 'after_solve = "0"'), "part[0].after_solve must be a whole number"),
    (lambda t: t.replace('label = "sgd"', "label = 3"), "part[0].method[0].label must be a string"),
    (lambda t: t.replace('format = "grokbench-study/1"', 'format = "x"'), "format must be one of"),
    (lambda t: t + "\n[[[", "not valid TOML"),
])
def test_a_hand_edited_study_file_is_one_line_error(tmp_path, capsys, edit, says):
    study, _ = _study("sgd")
    path = tmp_path / "study.toml"
    path.write_text(edit(S.dumps([study])))
    assert run_cli("run", str(path), "--quiet") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and str(path) in err


def test_plan_flags_are_refused_with_a_study_file(tmp_path, capsys):
    study, _ = _study("sgd")
    path = tmp_path / "study.toml"
    path.write_text(S.dumps([study]))
    assert run_cli("run", str(path), "--methods", "adamw") == 2
    assert "--methods is fixed by the study file" in capsys.readouterr().err


def test_leaderboard_reads_all_pairs_from_the_study_file(tmp_path):
    from grokbench import leaderboard as lb
    from grokbench import stats as st

    out = tmp_path / "out"
    assert run_cli("run", "--methods", "adamw,sgd[lr=.2]", "--compare", "all-pairs", "--seeds", "1",
                   "--out", str(out), *TINY) == 0
    parts = S.read(out / "study.toml")
    assert lb.requested_pairs(parts) == {"adamw", "sgd[lr=0.2]"}  # as the records label them
    text = (out / "leaderboard" / "README.md").read_text()
    assert f"grokbench run {out / 'study.toml'}".replace(str(Path.cwd()) + "/", "") in text or "study.toml`" in text
    assert "compare: all-pairs" in text and "| command |" not in text
    all_methods = S.Study(parts[0].pairs, parts[0].origins, parts[0].seeds, 0, "cpu", compare="all-pairs",
                          request=S.Request("x", "all", "1"))
    assert st.ALL_PAIRS in lb.requested_pairs([all_methods])
    assert lb.requested_pairs([parts[0].__class__(**{**parts[0].__dict__, "compare": "baseline"})]) == set()


def test_a_tuned_run_reruns_without_its_tuning_folder(tmp_path):
    import shutil

    tuning, results = tmp_path / "T", tmp_path / "R"
    assert run_cli("tune", "--methods", "grokfast", "--trials", "2", "--tune-seeds", "1", "--out", str(tuning),
                   "--quiet", *TINY_PARITY) == 0
    assert run_cli("run", "--methods", "grokfast", "--tuned", str(tuning), "--seeds", "1", "--out", str(results),
                   *TINY) == 0
    (part,) = S.read(results / "study.toml")
    assert part.tuned == S.TunedSource(str(tuning), 2, (1000,)) and part.controls
    assert sorted(part.origins) == [S.ADDED_BASELINE, S.CONTROL, S.CONTROL, S.NAMED]
    shutil.rmtree(tuning)  # a rerun reads nothing of it
    again = tmp_path / "again"
    assert run_cli("run", str(results / "study.toml"), "--out", str(again), "--quiet", "--no-calibrate") == 0
    assert {r["key"] for r in read_records(again)} == {r["key"] for r in read_records(results)}
    assert S.read(again / "study.toml") == [part]


def test_tune_writes_a_study_of_kind_tune_that_run_refuses(tmp_path, capsys):
    out = tmp_path / "tuning"
    with pytest.raises(UserError):  # stop right after the folder is prepared: nothing trains
        api.prepare_tuning("sparse_parity", "sgd", 2, "1", out, overrides=TINY_PARITY[1::2], device="cpu",
                           max_trials=2)
    api.prepare_tuning("sparse_parity", "sgd", 2, "1", out, overrides=TINY_PARITY[1::2], device="cpu")
    parts = S.read(out / "study.toml")
    assert [p.kind for p in parts] == ["tune"] and parts[0].plan.n_trials == 3  # 2 proposals + the defaults
    assert run_cli("run", str(out / "study.toml")) == 2
    assert "grokbench tune" in capsys.readouterr().err


def test_a_request_part_written_by_hand_resolves_into_the_folders_study(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "study.toml").write_text(
        'format = "grokbench-study/1"\n\n[[part]]\nbaseline = false\nafter_solve = 1\ncompare = "all-pairs"\n\n'
        '[part.request]\ntasks = "sparse_parity"\nmethods = "adamw,lion"\nseeds = "1"\n'
        f"set = {json.dumps(TINY_PARITY[1::2])}\n")
    assert run_cli("run", str(out / "study.toml"), *TINY[:2]) == 0
    (part,) = S.read(out / "study.toml")
    assert isinstance(part, S.Study) and part.after_solve == 1 and not part.baseline
    assert {m.label for _, m in part.pairs} == {"adamw", "lion"} and part.compare == "all-pairs"
    assert {r["key"] for r in read_records(out)} == part.plan.keys()
    assert all(r["identity"]["after_solve"] == 1 for r in read_records(out))


def _flags(command: str | None = None) -> dict[str, list[str]]:
    import argparse

    from grokbench.cli_args import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: [a.option_strings[-1] for a in parser._actions
                   if a.option_strings and not isinstance(a, argparse._HelpAction)]
            for name, parser in sub.choices.items() if command in (None, name)}


def test_at_most_40_flags_across_the_commands_of_this_round():
    flags = _flags()
    existing = ("run", "list", "report", "leaderboard", "calibrate", "tune", "reproduce")
    assert sum(len(flags[c]) for c in existing) <= 40, flags
    assert sum(len(f) for f in flags.values()) <= 45, flags
    assert "--executor" in flags["run"] and "--jobs" not in flags["run"]  # the walk reads real flags


@pytest.mark.parametrize("text, spec", [
    ("local", dict(kind="local")), ("process", dict(kind="process")), ("process:4", dict(kind="process", workers=4)),
    ("process:2,timeout=600", dict(kind="process", workers=2, timeout=600.0)),
    ("ray:auto,cpus=2,gpus=0.25", dict(kind="ray", address="auto", cpus=2.0, gpus=0.25)),
    ("ray:ray://10.0.0.1:10001", dict(kind="ray", address="ray://10.0.0.1:10001")),
    ("local,timeout=1.5", dict(kind="local", timeout=1.5)),
])
def test_the_executor_spec_grammar(text, spec):
    from grokbench.cli_args import ExecutorSpec, parse_executor

    assert parse_executor(text) == ExecutorSpec(**spec)


@pytest.mark.parametrize("text, says", [
    ("proc", "the kind must be one of local, process, ray"), ("process:0", "process:N needs N"),
    ("process:x", "process:N needs N"), ("local:3", "local takes no argument"), ("ray:", "needs an address"),
    ("process:2,gpus=1", "'gpus=1' is not an option of process"), ("ray,timeout=0", "timeout must be a number > 0"),
    ("ray,gpus=-1", "gpus must be a number >= 0"), ("local,timeout=1,timeout=2", "timeout is given twice"),
    ("local,timeout=nan", "timeout must be"),
])
def test_a_bad_executor_spec_is_one_line(capsys, text, says):
    assert run_cli("run", "--executor", text) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err
