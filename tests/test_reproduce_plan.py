"""grokbench reproduce --plan: the trials it counts are those reproduce would run (the
engine's own plans and cells), the estimate is steps x batched step cost, and nothing is
written or trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli
from test_reproduce import TINY_CLAIM

from grokbench import reproduce
from grokbench.calibrate.costs import StepCost
from grokbench.calibrate.estimate import cell_config
from grokbench.plan import build_plan
from grokbench.reproduce import planning
from grokbench.reproduce.claims import parse_claim
from grokbench.spec import parse_overrides


def _claim() -> dict:
    """TINY_CLAIM with a second experiment on its own 5 seeds (one method a scalar variant
    of another, so they share a cell) and a third the CPU budget skips."""
    claim = json.loads(json.dumps(TINY_CLAIM))
    first = claim["experiments"][0]
    claim["experiments"] += [
        {**first, "id": "five", "seeds": "0-4",
         "methods": [*first["methods"], {"method": "sgd[lr=0.5]", "role": "control"}], "ordering": []},
        {**first, "id": "paper_only", "budget": {"cpu": None, "paper": {"max_epochs": 20}}},
    ]
    return claim


def _engine_trials(run) -> int:
    """What ``reproduce`` would train for ``run``: the plan ``prepare_run`` builds."""
    plan = build_plan(run.task, ",".join(run.methods), run.seeds, parse_overrides(list(run.overrides)))
    return plan.n_trials


@pytest.mark.parametrize("caps", [reproduce.Caps(), reproduce.Caps(max_steps=3 * 7 + 6, seeds="0-2")])
def test_plan_counts_the_trials_plan_runs_would_run(caps):
    claim = parse_claim(_claim(), "tiny.json")
    plans, skipped = planning.plan_experiments([claim], "cpu", caps, batch_seeds=4)
    runs, _ = reproduce.plan_runs(claim, "cpu", caps)
    assert [p.run for p in plans] == runs and skipped == ["tiny_egd/paper_only"]
    assert [p.trials for p in plans] == [_engine_trials(r) for r in runs]
    if caps.seeds is None:
        assert [p.trials for p in plans] == [2 * 2, 3 * 5]
        assert plans[0].budget_text == "8 epochs (56 steps)"
    else:
        assert [p.trials for p in plans] == [2 * 3, 3 * 3] and plans[0].budget.schedule.max_steps == 3 * 7
    for p in plans:  # every slot of every cell is one planned trial, none twice
        keys = [k for cell in p.cells for k in cell.keys()]
        assert len(keys) == len(set(keys)) == p.trials and all(len(c.slots) <= 4 for c in p.cells)


def _cost(cell, step_s: float, setup_s: float = 1.0) -> StepCost:
    config = cell_config(cell)
    return StepCost(config.key, config.task_label, config.method_label, "cpu", config.layout, 1, step_s * 2, 0.0,
                    0.0, True, 5, 1, 1, 1, setup_s, step_s, 0.5, "quick")


def test_the_estimate_charges_each_cell_its_steps_times_the_batched_step_cost():
    claim = parse_claim(_claim(), "tiny.json")
    plans, _ = planning.plan_experiments([claim], "cpu")
    plan = plans[1]  # sgd and sgd[lr=0.5] share a cell, egd has its own
    assert len(plan.cells) == 2 and sorted(len(c.slots) for c in plan.cells) == [5, 10]
    costs = {cell_config(c).key: _cost(c, 0.01 * len(c.slots)) for c in plan.cells}
    est = planning.estimate(plan, costs)
    steps, bound = plan.budget.schedule.max_steps, plan.budget.bound
    assert est.cpu_s_budget == pytest.approx(steps * 0.01 * 15 + 2.0)  # CPU time per step, not wall
    assert est.cpu_s_bound == pytest.approx(bound * 0.01 * 15 + 2.0) and bound > steps
    assert est.longest_s == pytest.approx(steps * 0.1 + 1.0) and not est.unmeasured
    partial = planning.estimate(plan, dict(list(costs.items())[:1]))
    assert len(partial.unmeasured) == 1 and partial.cpu_s_budget < est.cpu_s_budget
    lines = planning.table([est])
    assert lines[2].startswith("| tiny_egd / five | sparse_parity | `sgd`, `egd`, `sgd[lr=0.5]` | 0-4 |")
    assert lines[-1].startswith("| **total** | | | | | 15 | 2 |")


def test_reproduce_plan_trains_and_writes_nothing(tmp_path: Path, capsys, monkeypatch):
    claim_file, out = tmp_path / "tiny.json", tmp_path / "res"
    claim_file.write_text(json.dumps(_claim()))
    monkeypatch.chdir(tmp_path)
    assert run_cli("reproduce", "tiny_egd", str(claim_file), "--plan", "--out", str(out),
                   "--page", str(tmp_path / "R.md"), "--quiet") == 0
    printed = capsys.readouterr().out
    assert "| tiny_egd / parity | sparse_parity | `sgd`, `egd` | 0-1 | 8 epochs (56 steps) | 4 | 2 |" in printed
    assert "| tiny_egd / five |" in printed and "| **total** | | | | | 19 | 4 |" in printed
    assert "not run at this budget: tiny_egd/paper_only" in printed and "machine: " in printed
    assert "no early stop" in printed and "batched model" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json"]  # no results folder, no page
