"""Hand-written input, checked where it enters: tuning identities by content, names that
become paths, schemas of tuned.json and claim files, plan-time limits, the Python API's
argument checks and the flags errors name (docs/robustness-schemas.md)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from helpers import run_cli

import grokbench
from grokbench import registry
from grokbench.errors import UserError
from grokbench.plan import build_plan
from grokbench.record import Record, identity_key
from grokbench.reproduce import runner
from grokbench.reproduce.claims import parse_claim
from grokbench.spec import resolve_method, resolve_task
from grokbench.store import Store
from grokbench.tuning.driver import FORMAT, read_tuned
from grokbench.tuning.tuned import apply_tuned, check_folder

REPO = Path(__file__).resolve().parent.parent

CLAIM = {
    "name": "sum_check", "title": "t", "arxiv": "1234.5678", "claim": "c", "metric": "target", "unit": "epochs",
    "metric_text": "m", "seeds": "3-4",
    "experiments": [{"id": "sums", "task": "sparse_sum", "budget": {"cpu": {"max_epochs": 3}, "paper": None},
                     "methods": [{"method": "sgd", "published": 12.5}, {"method": "adamw", "published": False}],
                     "ordering": [["adamw", "sgd"]]}],
}


def _claim_with(path: list, value) -> dict:
    """CLAIM with the field at ``path`` (keys and list indices) set to ``value``."""
    data = json.loads(json.dumps(CLAIM))
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return data


def _tuned_study(folder: Path, lr: float = 0.07) -> None:
    """A tuned.json selecting sgd[lr=...] for sparse_sum at its default task settings."""
    task = resolve_task("sparse_sum", {})
    spec = resolve_method(f"sgd[lr={lr}]", task, {})
    entry = {"task": "sparse_sum", "method": "sgd", "config": spec.label, "index": 1,
             "task_params": task.params, "space": {"sgd.lr": "log [0.001, 10]"},
             "optimizer": asdict(spec.optimizer), "transforms": []}
    folder.mkdir(parents=True)
    (folder / "tuned.json").write_text(json.dumps({"format": FORMAT, "trials": 3, "tune_seeds": [2000, 2001],
                                                   "selected": [entry]}))


# -- 1. identity from content ---------------------------------------------------------------

def test_tuned_trials_keep_their_identity_whatever_the_tuning_folder_is_called(tmp_path, monkeypatch):
    _tuned_study(tmp_path / "studies" / "sums")
    monkeypatch.chdir(tmp_path)
    shutil.copytree("studies/sums", "moved/elsewhere")
    plan = build_plan("sparse_sum", "sgd", "0-2", {})
    spellings = ["studies/sums", "./studies/sums/", str(tmp_path / "studies" / "sums"), "studies/../studies/sums",
                 "moved/elsewhere"]
    keys = [apply_tuned(plan, spelling, {}).keys() for spelling in spellings]
    assert all(k == keys[0] for k in keys) and len(keys[0]) == 3
    (_, method), = apply_tuned(plan, "moved/elsewhere", {}).pairs
    assert method.tuned_from == "moved/elsewhere" and "folder" not in method.tuned  # provenance, not identity
    other = tmp_path / "other"
    _tuned_study(other, lr=0.08)  # other content: other trials
    assert apply_tuned(plan, other, {}).keys().isdisjoint(keys[0])


def test_a_results_folder_started_from_one_spelling_extends_from_another(tmp_path, monkeypatch):
    _tuned_study(tmp_path / "S")
    monkeypatch.chdir(tmp_path)
    plan = apply_tuned(build_plan("sparse_sum", "sgd", "1", {}), "S", {})
    store = Store(tmp_path / "R", create=True)
    cell = plan.cells(set(), 8)[0]
    from grokbench.seedtrack import SeedTrack

    track = SeedTrack(0, 0)
    track.status = "unsolved"
    store.write(track.record(cell, None, None, {}, "", "", 0.0, None))
    (record,) = store.records()
    assert record.provenance == {"tuned_from": "S"} and "folder" not in record.identity["tuned"]
    copied = apply_tuned(build_plan("sparse_sum", "sgd", "1", {}), str(tmp_path / "S"), {})
    check_folder(copied, store)  # not "another configuration"
    assert copied.keys() == {record.key} <= store.done_keys()


def test_legacy_tuned_records_move_their_folder_to_provenance_and_rekey():
    identity = {"task": "sparse_sum", "preset": None, "method": "sgd", "seed": 5, "optimizer": {"name": "sgd"},
                "transforms": [], "tuned": {"config": "sgd[lr=0.5]", "index": 2, "trials": 4, "tune_seeds": [1000, 1001],
                          "folder": "old/T"}}
    legacy = {"key": identity_key(identity), "identity": identity, "status": "solved"}
    record = Record.from_json(json.loads(json.dumps(legacy)))
    assert record.provenance == {"tuned_from": "old/T"} and "folder" not in record.identity["tuned"]
    assert record.key == identity_key(record.identity) != legacy["key"]
    assert Record.from_json(record.to_json()).key == record.key  # migrating twice changes nothing


def test_published_tuned_records_migrate_to_content_keys():
    """leaderboard/tuned was written while the folder was part of the identity: read back,
    every record carries its folder as provenance and a key computed from its content.
    (They no longer resume under today's protocol: its stability settings differ.)"""
    records = Store(REPO / "leaderboard/tuned").records()
    assert len(records) == 440
    for record in records:
        assert "folder" not in (record.identity.get("tuned") or {})
        assert record.key == identity_key(record.identity)
    assert {r.provenance.get("tuned_from") for r in records if r.identity.get("tuned")} == {
        "leaderboard/tuning/sparse", "leaderboard/tuning/transformer"}


# -- 2. names from files become paths -------------------------------------------------------

@pytest.mark.parametrize("name", ["../../escape", "/etc/claims", "a/b", "", "..", "back\\slash", " padded"])
@pytest.mark.parametrize("field", [["name"], ["experiments", 0, "id"]])
def test_a_claim_name_or_experiment_id_that_is_no_plain_name_is_refused(tmp_path, capsys, name, field):
    claim_file = tmp_path / "claim.json"
    claim_file.write_text(json.dumps(_claim_with(field, name)))
    out = tmp_path / "deep" / "out"
    assert run_cli("reproduce", "all", str(claim_file), "--out", str(out), "--page",
                   str(tmp_path / "P.md"), "--quiet") == 2
    err = capsys.readouterr().err.strip().splitlines()
    shown = "experiments[0].id" if field[0] == "experiments" else "name"
    assert len(err) == 1 and str(claim_file) in err[0] and f"{shown} must be a plain name" in err[0]
    assert not (tmp_path / "deep").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["claim.json"]


def test_a_manifest_naming_an_experiment_outside_its_folder_is_refused(tmp_path):
    folder = tmp_path / "sum_check"
    folder.mkdir()
    manifest = {"claim": "sum_check", "command": [], "experiments": {
        "../../../x": {"task": "sparse_sum", "methods": ["sgd"], "seeds": "0", "set": [], "budget": "cpu"}}}
    (folder / runner.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="experiment id '../../../x' must be a plain name"):
        runner.read_manifest(tmp_path, "sum_check")
    run = runner.ExperimentRun("sum_check", "..", "sparse_sum", ("sgd",), "0", (), "cpu")
    with pytest.raises(UserError, match="must be a plain name"):
        run.folder(tmp_path)


# -- 3. schemas of hand-written files -------------------------------------------------------

@pytest.mark.parametrize("path, value, message", [
    (["experiments", 0, "methods", 0, "published"], float("inf"), "published must be a finite number >= 0"),
    (["experiments", 0, "methods", 1, "published"], -3, "published must be a finite number >= 0"),
    (["experiments", 0, "methods", 1, "published"], "fast", "published must be"),
    (["numbers_comparable"], "false", "numbers_comparable must be true or false"),
    (["numbers_comparable"], 0, "numbers_comparable must be true or false"),
    (["notes"], "one note", "notes must be a list of values each a string"),
    (["notes"], ["ok", 7], "notes must be a list"),
    (["seeds"], "2-1", "seeds '2-1' is malformed"),
    (["seeds"], 2.5, "seeds must be"),
    (["experiments", 0, "budget", "cpu"], 3, "budget.cpu must be an object or null"),
    (["experiments", 0, "budget", "laptop"], {}, "budget.laptop is not a field here"),
    (["experiments", 0, "ordering"], [["adamw", 4]], "ordering must be a list"),
    (["experiments", 0, "set"], "sparse_sum.n=3", "set must be a list"),
    (["metric_txt"], "typo", "metric_txt is not a field here"),
    (["unit"], "hours", "unit must be one of 'steps', 'epochs'"),
])
def test_every_claim_field_is_checked_with_one_line_naming_file_and_field(tmp_path, capsys, path, value, message):
    claim_file = tmp_path / "mine.json"
    claim_file.write_text(json.dumps(_claim_with(path, value)))
    assert run_cli("reproduce", str(claim_file)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {claim_file}: ") and message in err[0], err


def test_required_claim_fields_are_named_when_missing():
    data = json.loads(json.dumps(CLAIM))
    del data["experiments"][0]["methods"][1]["method"]
    with pytest.raises(UserError, match=r"^c.json: experiments\[0\].methods\[1\].method is missing$"):
        parse_claim(data, "c.json")
    assert parse_claim(CLAIM, "c.json").numbers_comparable is True  # the valid file still loads


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(trials="3"), "trials must be a whole number >= 1"),
    (lambda d: d.update(tune_seeds=[2000, -1]), "tune_seeds must be a list"),
    (lambda d: d.update(with_default="yes"), "with_default must be true or false"),
    (lambda d: d.update(selected={"task": "x"}), "selected must be a list"),
    (lambda d: d["selected"][0].update(index=7), r"selected\[0\].index must be <= trials \+ widening \(3\)"),
    (lambda d: d.update(widening=2) or d["selected"][0].update(index=6), r"must be <= trials \+ widening \(5\)"),
    (lambda d: d.update(widening=-1), "widening must be a whole number >= 0"),
    (lambda d: d.update(ranges={"sgd.lr": 3}), "ranges"),
    (lambda d: d["selected"][0].update(curve={"k": 0}), r"selected\[0\].curve must be a list"),
    (lambda d: d["selected"][0].update(index=1.5), r"selected\[0\].index must be a whole number"),
    (lambda d: d["selected"][0].update(median_steps=float("nan")), "median_steps must be a finite number"),
    (lambda d: d["selected"][0].pop("optimizer"), r"selected\[0\].optimizer is missing"),
    (lambda d: d["selected"][0].update(chosen=True), r"selected\[0\].chosen is not a field here"),
    (lambda d: d["selected"].append(dict(d["selected"][0])), "second entry for sparse_sum / sgd"),
    (lambda d: d.update(format="grokbench-tuned/0"), "format must be one of"),
])
def test_every_tuned_json_field_is_checked(tmp_path, change, message):
    _tuned_study(tmp_path / "S")
    data = json.loads((tmp_path / "S" / "tuned.json").read_text())
    change(data)
    (tmp_path / "S" / "tuned.json").write_text(json.dumps(data))
    with pytest.raises(UserError, match=message) as caught:
        read_tuned(tmp_path / "S")
    assert "tuned.json" in str(caught.value) and "\n" not in str(caught.value)


def test_published_tuned_and_claim_files_pass_their_schemas():
    for study in ("sparse", "transformer"):
        assert read_tuned(REPO / "leaderboard" / "tuning" / study)["selected"]
    assert len(grokbench.reproduce.load_claims()) >= 5


# -- 4. limits at plan time ------------------------------------------------------------------

def test_a_grid_is_counted_before_it_is_expanded(capsys):
    grid = "adamw[lr=" + ",".join(f"0.00{i}" for i in range(1, 10)) + ",betas=" + \
        ",".join(f"(0.9,0.9{i})" for i in range(1, 10)) + ",weight_decay=" + ",".join(map(str, range(1, 40))) + "]"
    assert run_cli("run", "--methods", grid, "--seeds", "300", "--out", "unused") == 2
    err = capsys.readouterr().err
    assert "(3,159 configuration(s), 300 trials each) makes 947,700 trials, more than the limit of 100,000" in err
    plan = build_plan("sparse_sum", grid, "2", {}, max_trials=10_000)  # raised explicitly: allowed
    assert len(plan.pairs) == 3159


@pytest.mark.parametrize("argv, message", [
    (["--methods", "adamw[lr=inf]"], "adamw.lr must be a finite number"),
    (["--methods", "sgd[lr=5e250]"], "sgd.lr must be in (0, 1e+06]"),
    (["--methods", "sgd[weight_decay=-0.5]"], "sgd.weight_decay must be in [0, 1000]"),
    (["--set", "sparse_sum.n_test=50000000"], "sparse_sum.n_test must be in [1, 1e+07]"),
    (["--set", "sparse_sum.max_epochs=1e12"], "sparse_sum.max_epochs must be in [1, 1e+10]"),
    (["--methods", "grokfast_ma[window=3000000]"], "grokfast_ma.window must be in [1, 1e+06]"),
    (["--tasks", "sparse_sum", "--set", "sparse_sum.hidden=3000000", "--methods", "grokfast_ma[window=900000]"],
     "needs at least"),
])
def test_values_out_of_range_are_refused_before_the_results_folder_exists(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    assert run_cli("run", "--tasks", "sparse_sum", *argv, "--out", str(out), "--quiet") == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("note: added")]
    assert len(err) == 1 and message in err[0] and not out.exists()


def test_a_cell_too_wide_for_memory_names_a_batch_that_fits(monkeypatch, tmp_path):
    from grokbench import api, limits

    monkeypatch.setattr(limits, "device_memory", lambda device: 10 * 2**20)  # a 10 MiB machine
    task = registry.get_task("sparse_sum")()
    per_trial = limits.trial_bytes(task, build_plan("sparse_sum", "adamw", "1", {}).pairs[0][1].build())
    assert per_trial == 4 * 4401 * 4 + task.data_bytes()  # parameters, gradient, two moments; the data
    plan = build_plan("sparse_sum", "adamw", "400", {})
    (task_spec, method_spec), = plan.pairs
    with pytest.raises(UserError, match=f"--batch-seeds {10 * 2**20 // per_trial} fits"):
        limits.check_memory([(task_spec, method_spec, 400)], "cpu")
    limits.check_memory([(task_spec, method_spec, 10 * 2**20 // per_trial)], "cpu")
    with pytest.raises(UserError, match="--batch-seeds"):  # what execute checks: the cells of --batch-seeds 64
        api.execute(plan, Store(tmp_path / "R", create=True), None, set(), batch_seeds=64)


def test_declared_sizes_match_the_built_models_and_data():
    import torch

    for name, cls in registry.tasks().items():
        for preset in [None, *cls.presets]:
            task = cls(**(dict(cls.presets[preset].params) if preset else {}))
            gen = torch.Generator().manual_seed(0)
            split = task.make_data(gen)
            assert task.parameter_count() == sum(t.numel() for t in task.init_params(gen).values()), (name, preset)
            tensors = (split.x_train, split.y_train, split.x_test, split.y_test)
            assert task.data_bytes() == sum(t.numel() * t.element_size() for t in tensors), (name, preset)


# -- 5. the Python API ----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"seeds": 1.5}, "grokbench.run: seeds must be N"),
    ({"seeds": [0, 1.0]}, "seeds must be N"),
    ({"seeds": [True]}, "seeds must be N"),
    ({"seeds": "zero"}, "--seeds 'zero' is malformed"),
    ({"methods": ["sgd", None]}, "grokbench.run: methods must be a string or a list of strings"),
    ({"tasks": 7}, "grokbench.run: tasks must be a string or a list of strings"),
    ({"out": None}, "grokbench.run: out must be a folder"),
    ({"out": 3}, "grokbench.run: out must be a folder"),
    ({"overrides": [("sgd.lr", 1)]}, "overrides must be a string or a list of strings"),
    ({"after_solve": -2}, "after_solve must be a whole number >= 0"),
    ({"batch_seeds": 0}, "batch_seeds must be a whole number >= 1"),
    ({"device": None}, "device must be a string"),
    ({"tuned": 12}, "tuned must be a folder"),
])
def test_api_arguments_of_the_wrong_type_are_one_user_error(tmp_path, kwargs, message):
    args = {"tasks": "sparse_sum", "methods": "sgd", "seeds": 1, "out": tmp_path / "R", "device": "cpu", **kwargs}
    with pytest.raises(UserError) as caught:
        grokbench.run(**args)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_api_accepts_lists_where_the_cli_takes_comma_separated_text(tmp_path):
    import numpy as np

    from grokbench import api

    plan, _ = api.prepare(["sparse_sum"], ["sgd", "adamw"], np.arange(2, 4), tmp_path / "R",
                          overrides="sparse_sum.n_test=40", baseline=False)
    assert [m.label for _, m in plan.pairs] == ["sgd", "adamw"] and plan.seeds == (2, 3)
    assert plan.pairs[0][0].params["n_test"] == 40  # one --set string, not its characters
    with pytest.raises(UserError, match="grokbench.tune: trials must be a whole number >= 1"):
        api.prepare_tuning("sparse_sum", "sgd", 2.5, "1", tmp_path / "T")
    with pytest.raises(UserError, match="grokbench.load: results_dir must be a folder"):
        grokbench.load(None)


# -- 6. errors name the flag that was typed ---------------------------------------------------

@pytest.mark.parametrize("argv, flag", [
    (["tune", "--tune-seeds", "5-2"], "--tune-seeds '5-2' is malformed"),
    (["tune", "--tune-seeds", "x"], "--tune-seeds 'x'"),
    (["tune", "--tune-seeds", "0-200000"], "--tune-seeds '0-200000' asks for more than"),
    (["tune", "--trials", "-4"], "--trials must be"),
    (["run", "--seeds", "3-1"], "--seeds '3-1' is malformed"),
])
def test_errors_name_the_flag_the_user_typed(tmp_path, capsys, argv, flag):
    assert run_cli(*argv, "--out", str(tmp_path / "o"), "--quiet") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0], err
