"""Checkpoints: a cell interrupted mid-training goes on from its last save, and its trials'
curves equal those of the uninterrupted run."""

import io
import os
import time
from dataclasses import replace

import pytest
import torch
from helpers import interrupt_after, read_records, run_cli, study_request

from grokbench import checkpoint, environment
from grokbench import plan as plan_module
from grokbench.plan import CheckpointPolicy, build_plan
from grokbench.record import CURVE_COLUMNS
from grokbench.spec import parse_overrides
from grokbench.store import Store
from grokbench.trial import run_cell

TINY = ["sparse_parity.n_train=200", "sparse_parity.n_test=100", "sparse_parity.max_epochs=8",
        "sparse_parity.batch_size=64"]
METHODS = ["sgd", "adam", "adamw", "egd", "sketched_egd", "grokfast", "grokfast_ma", "neuralgrok", "muon",
           "perpgrad", "normgrad", "wnclip", "lion", "grokfast+egd", "sgd[lr=0.05,0.2]"]
UNTIMED = [c for c in CURVE_COLUMNS if c != "train_time_s"]


def _cell(method: str, seeds: str = "2"):
    (cell,) = build_plan("sparse_parity", method, seeds, parse_overrides(TINY)).cells(set(), 64)
    return cell


def _curves(records) -> dict[str, dict]:
    return {r.key: {c: r.curve[c] for c in UNTIMED} | {"status": r.status} for r in records}


@pytest.mark.parametrize("method", METHODS)
def test_a_resumed_cell_gives_the_uninterrupted_curves(method, tmp_path):
    cell = _cell(method)
    whole = _curves(run_cell(cell))
    saving = replace(cell, checkpoint=CheckpointPolicy(str(tmp_path), every_s=0))
    with pytest.raises(KeyboardInterrupt):
        list(run_cell(saving, interrupt_after(4)))  # saved after evaluations 1-3 (epochs 1-3)
    assert checkpoint.find(saving.checkpoint, cell.keys()) is not None
    resumed = list(run_cell(saving))
    assert _curves(resumed) == whole
    assert not list(tmp_path.iterdir())  # a cell that finished deletes its checkpoint
    assert all(r.environment["resumed_at_steps"] == [3 * 4] for r in resumed)  # 4 steps per epoch
    here = environment.device_label(resumed[0].environment)
    assert here.startswith("cpu (") and all(r.environment["resumed_devices"] == [here] for r in resumed)
    assert all(r.curve["train_time_s"] == sorted(r.curve["train_time_s"]) for r in resumed)


@pytest.mark.parametrize("saved_on, reported", [("cuda (NVIDIA H200)", "cuda (NVIDIA H200)"), (None, None)])
def test_a_resumed_record_names_the_device_that_trained_before_the_checkpoint(tmp_path, saved_on, reported):
    cell = replace(_cell("adam"), checkpoint=CheckpointPolicy(str(tmp_path), every_s=0))
    with pytest.raises(KeyboardInterrupt):
        list(run_cell(cell, interrupt_after(3)))
    path = checkpoint.find(cell.checkpoint, cell.keys())
    saved = torch.load(io.BytesIO(checkpoint.read_payload(path)), weights_only=False)
    saved.pop("device")
    saved.pop("resumed_devices")  # a checkpoint written before devices were kept has neither
    if saved_on is not None:
        saved.update(device=saved_on, resumed_devices=[])
    checkpoint.write_payload(path, saved)
    with pytest.raises(KeyboardInterrupt):
        list(run_cell(cell, interrupt_after(2)))  # resumed once, saved again further on
    records = list(run_cell(cell))
    here = environment.device_label(records[0].environment)
    assert all(r.environment["resumed_at_steps"] == [8, 12] for r in records)
    assert all(r.environment["resumed_devices"] == [reported, here] for r in records)


def test_a_narrower_cell_resumes_from_a_wider_checkpoint_and_others_start_afresh(tmp_path):
    cell = _cell("adamw", "3")
    whole = _curves(run_cell(cell))
    saving = replace(cell, checkpoint=CheckpointPolicy(str(tmp_path), every_s=0))
    with pytest.raises(KeyboardInterrupt):
        list(run_cell(saving, interrupt_after(4)))
    narrow = replace(_cell("adamw", "1-2"), checkpoint=saving.checkpoint)  # seed 0 finished meanwhile, say
    resumed = list(run_cell(narrow))
    assert [r.environment.get("resumed_at_steps") for r in resumed] == [[12], [12]]
    for key, curves in _curves(resumed).items():
        assert curves["test_acc"] == pytest.approx(whole[key]["test_acc"], abs=1e-6)
    wider = replace(_cell("adamw", "4"), checkpoint=saving.checkpoint)  # seed 3 was never saved
    assert checkpoint.find(wider.checkpoint, wider.keys()) is None


def test_finished_checkpoints_are_removed_and_unfinished_ones_kept(tmp_path):
    cell = replace(_cell("sgd"), checkpoint=CheckpointPolicy(str(tmp_path), every_s=0))
    with pytest.raises(KeyboardInterrupt):
        list(run_cell(cell, interrupt_after(3)))
    killed, live = tmp_path / ".x.pt.123.tmp", tmp_path / ".y.pt.456.tmp"
    killed.write_bytes(b"")  # left by a process killed mid-save: untouched for an hour
    os.utime(killed, (time.time() - 3600, time.time() - 3600))
    live.write_bytes(b"")  # another run's save in progress (fresh): kept
    (tmp_path / "bad.json").write_text("{not json")
    assert checkpoint.remove_finished(tmp_path, {cell.keys()[0]}) == 1  # bad.json; one trial still unfinished
    assert len(list(tmp_path.glob("*.pt"))) == 1 and list(tmp_path.glob(".*")) == [live]
    assert checkpoint.remove_finished(tmp_path, set(cell.keys())) == 1
    assert list(tmp_path.iterdir()) == [live]


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "R"
    args = ["run", study_request(out, "adamw", "2", list(TINY), baseline=False), "--quiet", "--no-calibrate"]
    original = checkpoint.Saver.save
    saves = []

    def save_then_stop(self, step, batch, run):
        original(self, step, batch, run)
        saves.append(step)
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.Saver, "save", save_then_stop)
    monkeypatch.setattr(plan_module, "DEFAULT_CHECKPOINT_S", 1e-9)  # no flag: the default, read per run
    assert run_cli(*args) == 130
    assert read_records(out) == [] and len(list((out / "checkpoints").glob("*.pt"))) == 1
    monkeypatch.setattr(checkpoint.Saver, "save", original)
    assert run_cli(*args) == 0
    records = read_records(out)
    assert len(records) == 2 and all(r["environment"]["resumed_at_steps"] == [saves[-1]] for r in records)
    assert not list((out / "checkpoints").glob("*"))  # removed once the trials have records
    assert [r["status"] for r in Store(out).runs()] == ["interrupted", "completed"]


def test_a_damaged_checkpoint_is_ignored_with_a_warning(tmp_path, capsys):
    cell = replace(_cell("sgd"), checkpoint=CheckpointPolicy(str(tmp_path), every_s=0))
    whole = _curves(run_cell(_cell("sgd")))
    with pytest.raises(KeyboardInterrupt):
        list(run_cell(cell, interrupt_after(3)))
    (pt,) = tmp_path.glob("*.pt")
    pt.write_bytes(pt.read_bytes()[:100])  # truncated
    records = list(run_cell(cell))
    assert _curves(records) == whole and all("resumed_at_steps" not in r.environment for r in records)
    assert "discarding checkpoint" in capsys.readouterr().err
