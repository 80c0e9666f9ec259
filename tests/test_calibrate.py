"""Step-cost calibration: the session over a folder, its rules (blocks, rounds, warm-up),
the calibrated columns and the wall-time table that uses them."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from helpers import TINY_PARITY, run_cli

from grokbench import calibrate, registry
from grokbench import stats as st
from grokbench.calibrate import measure
from grokbench.calibrate.configs import configs_of
from grokbench.environment import Period
from grokbench.errors import UserError
from grokbench.leaderboard import walltime_rows
from grokbench.plan import build_plan
from grokbench.spec import parse_overrides
from grokbench.store import Store, load_frame
from grokbench.trial import run_cell


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A results folder of sgd and egd, two seeds each, trained together (no calibration)."""
    out = tmp_path_factory.mktemp("cal") / "out"
    store = Store(out, create=True)
    overrides = parse_overrides([v for v in TINY_PARITY if v != "--set"])
    for cell in build_plan("sparse_parity", "sgd,egd", "2", overrides).cells(set(), 64):
        for record in run_cell(cell):
            store.write(record)
    return out


def test_calibrate_measures_every_configuration_of_the_folder(folder, capsys):
    calibrate.calibrate_folder(folder, measure.QUICK, threads=1)  # what `run` does at its end
    data = json.loads(calibrate.calibration_path(folder).read_text())
    assert data["mode"] == "quick" and data["threads"] == 1 and data["skipped"] == []
    costs = calibrate.load_costs(folder)
    frame = load_frame(folder)
    assert set(costs) == set(frame["calibration_key"])
    assert {(c.method, c.layout) for c in costs.values()} == {("sgd", 2), ("egd", 2)}
    for c in costs.values():
        assert c.step_cost_s > 0 and c.rounds == measure.QUICK.max_rounds and c.setup_s >= 0
        assert c.block_steps % 7 == 0  # whole epochs: 200 examples at batch 32
    calibrated = calibrate.with_calibrated_columns(frame, costs)
    for row in calibrated.to_dict(orient="records"):
        cost = costs[row["calibration_key"]]
        assert row["calibrated_train_time_s"] == pytest.approx(cost.seconds_for(row["steps_timed"]))


def test_bad_input_is_one_line(folder, tmp_path, capsys):
    assert run_cli("calibrate", str(tmp_path / "missing")) == 2
    (tmp_path / "empty" / "records").mkdir(parents=True)
    with pytest.raises(UserError, match="no finished trial"):
        calibrate.calibrate_folder(tmp_path / "empty")
    assert "Traceback" not in capsys.readouterr().err


def test_run_calibrates_once_quickly_by_default(tmp_path):
    out = tmp_path / "out"
    args = ["run", "--methods", "sgd", "--seeds", "1", "--out", str(out), "--quiet", *TINY_PARITY]
    assert run_cli(*args) == 0
    path = calibrate.calibration_path(out)
    assert json.loads(path.read_text())["mode"] == "quick"
    before = path.stat().st_mtime_ns
    assert run_cli(*args) == 0  # every configuration is calibrated already: nothing to do
    assert path.stat().st_mtime_ns == before


class FakeRunner:
    """Costs ``cost`` seconds per step; logs the order in which runners are stepped."""

    def __init__(self, name, costs, log):
        self.name, self.costs, self.log = name, iter(costs), log

    def run(self, steps):
        self.log.append(self.name)
        return Period(next(self.costs) * steps, 0.0, None)


def test_rounds_rotate_and_stop_once_every_median_is_stable():
    log = []
    runners = [FakeRunner(n, [1e-3] * 100, log) for n in "abc"]
    settings = measure.Settings(min_rounds=4, max_rounds=50, rel_tol=0.01)
    blocks = measure.interleave(runners, [10, 10, 10], [1e-3] * 3, settings)
    assert [len(b) for b in blocks] == [4, 4, 4]  # constant costs: stable at min_rounds
    assert log == list("abc" "bca" "cab" "abc")
    noisy = [FakeRunner("n", [1e-3, 3e-3] * 50, [])]
    assert len(measure.interleave(noisy, [10], [1e-3], settings)[0]) == 50  # never stable: max_rounds


def test_block_lengths_follow_the_measured_cost():
    # the warm-up guessed both at 1 ms per step; b really costs 4 ms: its blocks shrink
    runners = [FakeRunner("a", [1e-3] * 10, []), FakeRunner("b", [4e-3] * 10, [])]
    settings = measure.Settings(min_rounds=3, max_rounds=3, block_s=0.08, max_block_s=1.0)
    blocks = measure.interleave(runners, [1, 1], [1e-3, 1e-3], settings)
    assert [steps for _, steps in blocks[0]] == [80, 80, 80]
    assert [steps for _, steps in blocks[1]] == [80, 20, 20]  # 0.08 s at 4 ms per step


def test_relative_standard_error_shrinks_with_rounds():
    rng = np.random.default_rng(0)
    few, many = rng.normal(1.0, 0.1, 10), rng.normal(1.0, 0.1, 1000)
    assert measure.relative_standard_error(many) < measure.relative_standard_error(few) < 0.1
    assert measure.relative_standard_error([1.0]) == float("inf")


def test_blocks_cover_whole_units_and_last_equally_long():
    assert measure.block_unit(period=3, steps_per_epoch=7) == 21
    assert measure.block_unit(period=3, steps_per_epoch=10_000) == 3  # an epoch too long to cover
    step_s = [1e-4, 0.05, 1e-3]
    blocks = measure.equal_blocks([21, 1, 4], step_s, block_s=0.01, max_block_s=1.0)
    assert blocks[0] % 21 == 0 and blocks[2] % 4 == 0 and blocks[1] == 1
    seconds = [b * s for b, s in zip(blocks, step_s)]
    assert max(seconds) / min(seconds) < 1.2  # as long as the slowest unit (0.05 s)
    capped = measure.equal_blocks([21, 1, 4], step_s, block_s=0.01, max_block_s=0.01)
    assert capped[1] == 1 and capped[2] == 8  # the slow unit alone is longer than the cap


PERIODIC = textwrap.dedent(
    '''
    from grokbench import Transform, register

    @register
    class Periodic(Transform):
        """Costs more every third step; settles after 10 steps."""
        name = "periodic_cost_test"
        cost_period = 3
        cost_warmup = 10

        def update(self, grads, params, state, ctx):
            return grads
    '''
)


def test_a_method_s_cost_period_and_warm_up_are_honoured(tmp_path, folder):
    plugin = tmp_path / "periodic.py"
    plugin.write_text(PERIODIC)
    registry.load_plugin_file(plugin)
    config = configs_of(Store(folder).records())[0][0]
    from grokbench.spec import resolve_method

    config = type(config)(config.key, config.task_label, "periodic_cost_test@sgd", config.task,
                          resolve_method("periodic_cost_test@sgd", config.task, {}), "cpu", 1, (0,))
    runner = measure.Runner(config)
    assert runner.period == 3 and runner.warmup_steps == 10
    measure.warm_up(runner, measure.Settings(warmup_s=0.0))
    assert runner.step >= 10


def test_a_sweep_is_measured_once_per_step_structure(tmp_path, monkeypatch):
    # three learning rates trained in one batch share one step structure: one runner steps
    # them side by side, and its cost is written for each of the three
    out = tmp_path / "sweep"
    store = Store(out, create=True)
    overrides = parse_overrides([v for v in TINY_PARITY if v != "--set"])
    for cell in build_plan("sparse_parity", "sgd[lr=0.05,0.1,0.2]", "2", overrides).cells(set(), 64):
        for record in run_cell(cell):
            store.write(record)
    built = []

    class CountingRunner(measure.Runner):
        def __init__(self, config, *args, **kwargs):
            super().__init__(config, *args, **kwargs)
            built.append(self)

    monkeypatch.setattr(calibrate.session, "Runner", CountingRunner)
    calibrate.calibrate_folder(out, measure.QUICK, threads=1, log=lambda _: None)
    costs = calibrate.load_costs(out)
    assert len(built) == 1 and len(built[0].batch.slots) == 6  # 3 configurations x 2 seeds
    assert set(built[0].batch.ctx.slot_settings["lr"].tolist()) == {0.05, 0.1, 0.2}
    assert set(costs) == set(load_frame(out)["calibration_key"]) and len(costs) == 3
    assert {c.method for c in costs.values()} == {"sgd[lr=0.05]", "sgd[lr=0.1]", "sgd[lr=0.2]"}
    shared = {(c.step_cost_s, c.setup_s, c.layout, c.rounds, c.measured_as) for c in costs.values()}
    assert len(shared) == 1 and next(iter(shared))[-1] in costs


# ------------------------------------------------------------------ calibrated wall time

def _rows(method, steps, measured_s_per_step, key):
    return [{
        "task": "t", "preset": None, "task_label": "t", "method": method, "seed": seed, "status": "solved",
        "solve_step": s, "fit_step": s // 2, "plateau_steps": s - s // 2, "solve_epoch": s / 10,
        "train_time_s": s * measured_s_per_step, "time_to_target_s": s * measured_s_per_step,
        "budget_steps": 10_000, "budget_epochs": 1000, "steps_per_epoch": 10, "target": 1.0,
        "task_params": {}, "optimizer": "base", "optimizer_params": {}, "base": "base", "baseline": "base",
        "transforms": [] if method == "base" else [{"name": method}], "parts": [],
        "calibration_key": key, "device": "cpu", "threads": 1, "batched_seeds": 10,
        "under_load": method == "acc", "steps_timed": s, "key": f"{method}-{seed}",
    } for seed, s in enumerate(steps)]


def _cost(key, method, per_step):
    return calibrate.StepCost(key, "t", method, "cpu", 10, 1, per_step * 10, 0.01, 0.001, True, 20, 10, 100, 1,
                              0.0, per_step * 10, 1.0, "full")


def test_wall_time_table_uses_calibrated_seconds_and_says_so():
    # acc needs half the steps; measured under load its steps looked 4x dearer, calibrated 1.5x
    frame = pd.DataFrame(_rows("base", [2000 + 10 * i for i in range(10)], 0.001, "kb")
                         + _rows("acc", [1000 + 10 * i for i in range(10)], 0.004, "ka"))
    costs = {"kb": _cost("kb", "base", 0.001), "ka": _cost("ka", "acc", 0.0015)}
    ts = st.analyze(frame, baselines={"t": "base"}, n_boot=200)["t"]
    measured = {r["method"]: r for r in walltime_rows(ts)}["acc"]
    assert measured["epoch savings survive?"].startswith("no")
    assert measured["wall time from"] == "measured in the loop"
    timing = calibrate.walltime_context(frame, costs)["t"]
    row = {r["method"]: r for r in walltime_rows(ts, timing)}["acc"]
    assert row["epoch savings survive?"] == "yes"
    assert row["wall time from"] == "calibrated: cpu, 1 thread, 10 seeds per batch"
    assert row["wall-time speedup [95% CI]"].startswith("1.3")  # 2 x (0.001 / 0.0015)
    assert "10/10 measured under load" in row["notes"]
    calibrated = calibrate.with_calibrated_columns(frame, costs)
    first = calibrated[calibrated["method"] == "acc"].iloc[0]
    assert first["calibrated_time_to_target_s"] == pytest.approx(1000 * 0.0015)
