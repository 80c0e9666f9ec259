"""What a run compares: each task's baseline joins the named methods (unless told not to),
and the default seed count can reach significance."""

from __future__ import annotations

import math

from helpers import TINY_PARITY, read_records, run_cli, study_request

from grokbench import api, stats
from grokbench.cli_args import build_parser
from grokbench.errors import UserError
from grokbench.plan import build_plan


def _labels(plan) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for task, method in plan.pairs:
        out.setdefault(task.label, []).append(method.label)
    return out


def test_build_plan_adds_each_tasks_baseline_first():
    plan = build_plan("sparse_parity,modular_addition", "egd", "2", {}, baseline=True)
    assert _labels(plan) == {"sparse_parity": ["sgd", "egd"], "modular_addition": ["adamw", "egd"]}
    assert all(m.baseline == m.label for _, m in plan.pairs if m.label in ("sgd", "adamw"))


def test_a_named_baseline_is_not_added_twice_and_opting_out_adds_nothing():
    assert _labels(build_plan("sparse_parity", "egd,sgd", "1", {}, baseline=True)) == {"sparse_parity": ["egd", "sgd"]}
    assert _labels(build_plan("sparse_parity", "egd", "1", {}, baseline=False)) == {"sparse_parity": ["egd"]}


def test_prepare_says_which_baselines_it_added(tmp_path, capsys):
    plan, _ = api.prepare("sparse_parity,sparse_sum", "egd", 1, tmp_path / "out")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sgd on sparse_parity, sparse_sum" in err and "baseline = false" in err
    api.prepare("sparse_parity", "egd", 1, tmp_path / "out2", baseline=False)
    assert capsys.readouterr().err == ""


def test_default_seeds_are_each_tasks_own_and_can_reach_significance():
    args = build_parser().parse_args(["run"])
    assert args.seeds == "auto" and args.compare == "baseline"
    plan = build_plan("sparse_parity,modular_addition", "sgd", args.seeds, {})
    assert plan.seeds_of("sparse_parity") == tuple(range(64)) and plan.seeds_of("modular_addition") == tuple(range(20))
    assert plan.n_trials == 64 + 20
    assert stats.detectable_win_rate(64) <= 0.75  # the stated effect, 80% power in the family
    assert stats.detectable_win_rate(20) is not None
    assert math.isclose(2 / 2**3, 0.25) and stats.detectable_win_rate(3) is None  # three seeds: never significant


def test_run_adds_the_baseline(tmp_path, capsys):
    out = tmp_path / "with"
    assert run_cli("run", "--methods", "egd", "--seeds", "1", "--out", str(out), "--quiet", *TINY_PARITY) == 0
    assert {r["identity"]["method"] for r in read_records(out)} == {"sgd", "egd"}
    captured = capsys.readouterr()
    assert "added each task's baseline" in captured.err and "no baseline" not in captured.out


def test_a_study_files_baseline_and_compare_reach_prepare(monkeypatch, capsys, tmp_path):
    seen = {}

    def fake_prepare(*args, **kwargs):
        seen.update(kwargs)
        raise UserError("stop here")

    monkeypatch.setattr(api, "prepare", fake_prepare)
    path = study_request(tmp_path, "egd", "1", [], baseline=False, compare="all-pairs")
    assert run_cli("run", path) == 2
    assert seen["baseline"] is False and seen["compare"] == "all-pairs"
    seen.clear()
    assert run_cli("run", "--methods", "egd", "--compare", "all-pairs") == 2
    assert seen.get("baseline", True) is True and seen["compare"] == "all-pairs"  # flags: the baseline is added
    assert run_cli("run", "--compare", "nope") == 2 and "invalid choice" in capsys.readouterr().err


def test_a_run_at_the_default_seeds_trains_each_tasks_own_count(tmp_path):
    """No --seeds: the headline command's path (each task's report seeds), end to end."""
    out = tmp_path / "out"
    assert run_cli("run", "--methods", "sgd", "--out", str(out), "--quiet", "--no-calibrate", *TINY_PARITY) == 0
    assert sorted(r["identity"]["seed"] for r in read_records(out)) == list(range(64))
    assert run_cli("run", "--methods", "sgd", "--out", str(out), "--quiet", "--no-calibrate", *TINY_PARITY) == 0
    assert len(read_records(out)) == 64  # resumed: nothing more to train
