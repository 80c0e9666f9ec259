"""benchmarks/publish_plan.py counts the trials the engine would create: its chunks are
compared with the plans `grokbench tune` and `grokbench run` build (nothing trains)."""

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from grokbench import api
from grokbench.tuning.controls import add_controls

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "publish_plan.py"


@pytest.fixture(scope="module")
def publish_plan():
    spec = importlib.util.spec_from_file_location("publish_plan", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["publish_plan"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("publish_plan", None)


def test_tune_chunk_counts_the_trials_grokbench_tune_would_create(publish_plan, tmp_path):
    chunk = publish_plan.tune_chunk("sparse_parity:k5", methods="sgd,egd,grokfast")
    study, _ = api.prepare_tuning("sparse_parity:k5", "sgd,egd,grokfast", "auto", "1000-1004", tmp_path / "t")
    assert chunk.trials == study.plan.n_trials
    assert {i.study for i in chunk.items} == {"sgd", "egd", "grokfast"}
    per_study = {i.study: i.trials for i in chunk.items}
    assert per_study["egd"] == (study.trials + 1) * len(study.plan.seeds)  # K draws + the defaults


def test_run_chunks_count_the_report_trials_and_two_controls_per_accelerator(publish_plan, tmp_path):
    methods = "sgd,egd[lr=0.3],normgrad[lr=0.2]"  # as selections do, the accelerators draw other base settings
    plan, _ = api.prepare("sparse_sum", methods, "auto", tmp_path / "r")
    defaults = publish_plan.run_chunk("sparse_sum", tuned=False, methods=methods)
    tuned = publish_plan.run_chunk("sparse_sum", tuned=True, methods=methods)
    assert defaults.trials == plan.n_trials
    controls = [i for i in tuned.items if i.role != publish_plan.TUNED]
    assert tuned.trials - len(controls) * len(plan.seeds_of("sparse_sum")) == plan.n_trials
    # the engine's controls when every method is tuned (both accelerators run on the baseline's SGD)
    as_tuned = replace(plan, pairs=tuple((t, replace(m, tuned={"config": m.label, "index": 0})) for t, m in plan.pairs))
    engine = add_controls(as_tuned, {})
    assert len(controls) == len(engine.pairs) - len(plan.pairs) == 4


def test_a_solved_trial_trains_through_window_and_tail_and_the_bound_is_the_most(publish_plan):
    from grokbench.metrics import Stability
    from grokbench.task import Schedule

    budget = publish_plan.Budget(Schedule(32, 32, 32, 6400), Stability())
    solved = budget.trial_steps({"status": "solved", "solve_step": 1000})
    assert solved == 1000 + (Stability().window(1000, 32) + Stability().tail(1000, 32)) * 32
    assert budget.trial_steps({"status": "unsolved", "solve_step": None}) == 6400
    assert budget.trial_steps({"status": "diverged", "steps_timed": 6}) == 6
    assert budget.trial_steps({"status": "solved", "solve_step": 9000}) == 6400  # past today's budget
    assert all(budget.trial_steps({"status": "solved", "solve_step": s}) <= budget.bound for s in range(32, 6401, 32))
