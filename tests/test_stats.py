"""grokbench.stats on synthetic records with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from grokbench import leaderboard as lb
from grokbench import stats as st

BUDGET = 10_000
SPE = 10  # steps per epoch


def rows(method: str, steps, *, task: str = "synthetic", seeds=None, statuses=None, seconds_per_step=0.001,
         transforms=None, optimizer="base"):
    """Trial rows of one method: ``steps[i]`` is the solve step of seed i, None = unsolved."""
    seeds = list(range(len(steps))) if seeds is None else list(seeds)
    out = []
    for i, (seed, s) in enumerate(zip(seeds, steps)):
        status = statuses[i] if statuses else ("solved" if s is not None else "unsolved")
        solved = status == "solved"
        ran = s if solved else BUDGET
        out.append({
            "task": task, "preset": None, "task_label": task, "method": method, "seed": seed,
            "status": status,
            "fit_step": (s // 2) if solved else None,
            "solve_step": s if solved else None,
            "solve_epoch": s / SPE if solved else None,
            "plateau_steps": (s - s // 2) if solved else None,
            "plateau_epochs": (s - s // 2) / SPE if solved else None,
            "train_time_s": ran * seconds_per_step if status in st.FINAL_STATUSES else None,
            "time_to_target_s": s * seconds_per_step if solved else None,
            "budget_steps": BUDGET if status in st.FINAL_STATUSES else None,
            "budget_epochs": BUDGET / SPE if status in st.FINAL_STATUSES else None,
            "steps_per_epoch": SPE if status in st.FINAL_STATUSES else None,
            "target": 1.0,
            "task_params": {"n": 1}, "optimizer": optimizer, "optimizer_params": {"lr": 0.1},
            "transforms": transforms if transforms is not None else ([] if method == optimizer else [{"name": method}]),
            "device_name": "cpu", "key": f"{task}-{method}-{seed}",
        })
    return out


def analyze(*groups, baseline="base", n_boot=500):
    frame = pd.DataFrame([r for g in groups for r in g])
    return st.analyze(frame, baselines={"synthetic": baseline}, n_boot=n_boot)["synthetic"]


def spread(center: float, n: int = 10, width: float = 0.3) -> list[int]:
    return [int(center * (1 - width + 2 * width * i / (n - 1))) for i in range(n)]


# ---------------------------------------------------------------------------- tests


def test_identical_distributions_give_large_p():
    values = spread(1000)
    ts = analyze(rows("base", values), rows("same", values))
    c = ts.vs_baseline["same"]
    assert c.p_logrank > 0.9 and c.p_adjusted > 0.9
    assert c.verdict == st.NO_DIFF
    assert c.speedup_steps.value == pytest.approx(1.0)
    lo, hi = c.speedup_steps.ci
    assert lo <= 1.0 <= hi


def test_same_distribution_random_draws_give_large_p():
    rng = np.random.default_rng(1)
    a = [int(x) for x in rng.exponential(1000, 12) + 10]
    b = [int(x) for x in rng.exponential(1000, 12) + 10]
    c = analyze(rows("base", a), rows("other", b)).vs_baseline["other"]
    assert c.p_logrank > 0.1 and c.verdict == st.NO_DIFF


def test_clearly_separated_give_small_p_and_direction():
    ts = analyze(rows("base", spread(2000)), rows("fast", spread(200)), rows("slow", spread(6000)))
    fast, slow = ts.vs_baseline["fast"], ts.vs_baseline["slow"]
    assert fast.p_logrank < 0.01 and fast.p_adjusted < 0.01 and fast.verdict == st.FASTER
    assert slow.p_logrank < 0.01 and slow.verdict == st.SLOWER
    assert fast.speedup_steps.value == pytest.approx(10, rel=0.05)
    assert fast.speedup_steps.ci[0] > 1
    assert slow.speedup_steps.ci[1] < 1
    assert ts.ranked() == ["fast", "base", "slow"]


def test_solve_rates_fisher():
    c = analyze(rows("base", spread(500)), rows("fails", [500, 600] + [None] * 8)).vs_baseline["fails"]
    assert c.p_fisher < 0.01
    assert c.verdict == st.SLOWER


def test_censoring_moves_median_and_test_the_right_way():
    base = rows("base", spread(2000))
    fast = spread(500)
    z_prev, med_prev = math.inf, 0.0
    verdicts = []
    for n_censored in (0, 3, 6, 10):
        # censor the fastest runs: a censored run can only look worse
        values = [None] * n_censored + fast[n_censored:]
        ts = analyze(base, rows("m", values))
        med = ts.methods["m"].median_steps.value
        z = ts.vs_baseline["m"].z  # > 0: solves sooner than the baseline
        assert med >= med_prev and z < z_prev
        med_prev, z_prev = med, z
        verdicts.append(ts.vs_baseline["m"].verdict)
    assert math.isinf(med_prev)  # unsolved: median "> budget"
    assert verdicts[0] == st.FASTER and verdicts[-1] == st.SLOWER
    assert lb.fmt_median(ts.methods["m"].median_epochs, BUDGET / SPE).startswith("> ")


def test_diverged_counts_as_censored_not_dropped():
    statuses = ["solved"] * 4 + ["diverged"] * 6
    values = spread(100)[:4] + [None] * 6
    ts = analyze(rows("base", spread(2000)), rows("div", values, statuses=statuses))
    m = ts.methods["div"]
    assert m.sample.n == 10 and m.sample.k == 4 and m.sample.n_diverged == 6
    assert math.isinf(m.median_steps.value)  # dropping the diverged seeds would make it "fast"
    assert "6 diverged" in lb.fmt_solved(m.sample)


def test_errors_and_timeouts_are_excluded_and_counted():
    statuses = ["solved"] * 8 + ["error", "timeout"]
    ts = analyze(rows("base", spread(1000)), rows("m", spread(1000), statuses=statuses))
    m = ts.methods["m"]
    assert m.sample.n == 8 and m.sample.excluded == {"error": 1, "timeout": 1}
    assert ts.vs_baseline["m"].n == 8  # paired over the seeds both have
    assert "1 error" in lb.fmt_solved(m.sample) and "1 timeout" in lb.fmt_solved(m.sample)


def test_timeout_with_a_curve_is_censored_where_it_stopped():
    statuses = ["solved"] * 8 + ["timeout"] * 2
    m_rows = rows("m", spread(1000), statuses=statuses)
    m_rows[-1]["curve"] = {"step": [0, 100, 300]}
    ts = analyze(rows("base", spread(1000)), m_rows)
    m = ts.methods["m"]
    assert m.sample.n == 9 and m.sample.count("timeout") == 1 and m.sample.excluded == {"timeout": 1}
    assert m.sample.steps_censor[-1] == 300 and not m.sample.solved[-1]
    assert "1 timeout" in lb.fmt_solved(m.sample)


def test_pairing_uses_common_seeds_only():
    ts = analyze(rows("base", spread(1000, 5), seeds=range(5)), rows("m", spread(1000, 10), seeds=range(10)))
    assert ts.vs_baseline["m"].seeds == [0, 1, 2, 3, 4]


def test_holm_known_values_monotone_never_below_raw():
    assert st.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert st.holm([0.5, None, float("nan")]) == [0.5, None, None]
    rng = np.random.default_rng(0)
    for _ in range(50):
        raw = list(rng.uniform(0, 0.2, size=rng.integers(1, 8)))
        adj = st.holm(raw)
        assert all(a >= r - 1e-15 and a <= 1.0 for a, r in zip(adj, raw))
        order = np.argsort(raw)
        assert all(np.diff(np.array(adj)[order]) >= -1e-15)  # monotone in the raw p


def test_holm_applied_across_methods_of_a_task():
    ts = analyze(rows("base", spread(2000)), rows("a", spread(1500)), rows("b", spread(200)), rows("c", spread(1900)))
    cs = list(ts.vs_baseline.values())
    assert all(c.p_adjusted >= c.p_logrank for c in cs)
    assert sorted(c.p_adjusted for c in cs) == [c.p_adjusted for c in sorted(cs, key=lambda c: c.p_logrank)]


def test_bootstrap_ci_covers_true_median_mostly():
    rng = np.random.default_rng(123)
    scale = 1000.0
    true_median = scale * math.log(2)
    hits, reps = 0, 100
    for r in range(reps):
        x = rng.exponential(scale, 25)
        e = st.median_ci(x, np.random.default_rng(r), n_boot=400)
        hits += e.ci[0] <= true_median <= e.ci[1]
    assert hits >= 85


def test_bootstrap_is_deterministic():
    a = analyze(rows("base", spread(2000)), rows("m", spread(900)))
    b = analyze(rows("base", spread(2000)), rows("m", spread(900)))
    assert a.vs_baseline["m"].speedup_steps.ci == b.vs_baseline["m"].speedup_steps.ci
    assert a.methods["m"].median_steps.ci == b.methods["m"].median_steps.ci


def test_censored_median_rules():
    assert st.censored_median([1, 2, 3]) == 2
    assert st.censored_median([1, 2, math.inf]) == 2
    assert math.isinf(st.censored_median([1, math.inf, math.inf]))
    assert math.isinf(st.censored_median([1, 2, math.inf, math.inf]))  # exactly half: undetermined
    assert st.censored_median([1, 2, 3, math.inf]) == 2.5


@pytest.mark.parametrize("base, other", [
    ([1000], [500]),                                         # one seed
    ([None] * 5, [None] * 5),                                # all censored
    ([700] * 5, [700] * 5),                                  # identical values
    ([], [500, 600]),                                        # baseline has no final trial
])
def test_degenerate_inputs_say_not_enough_data(base, other):
    groups = [rows("other", other)]
    if base:
        groups.append(rows("base", base))
    else:
        groups.append(rows("base", [100, 200], statuses=["error", "error"]))
    ts = analyze(*groups)
    c = ts.vs_baseline["other"]
    assert c.verdict == st.NOT_ENOUGH
    for table in (lb.main_rows(ts), lb.walltime_rows(ts)):
        for row in table:
            for cell in row.values():
                assert "nan" not in cell.lower()
    lb.print_tables({"synthetic": ts}, console=_quiet_console())


def test_baseline_missing_is_stated_not_a_crash():
    frame = pd.DataFrame(rows("egd", spread(500), task="sparse_parity", optimizer="sgd")
                         + rows("adamw", spread(600), task="sparse_parity", optimizer="adamw"))
    ts = st.analyze(frame, n_boot=100)["sparse_parity"]
    assert ts.baseline is None and "sgd" in ts.note and "not in the results" in ts.note
    assert ts.vs_baseline == {}
    assert {r["verdict"] for r in lb.main_rows(ts)} == {"no baseline"}


def test_baseline_from_registry_and_inferred():
    frame = pd.DataFrame(rows("sgd", spread(1000), task="sparse_parity", optimizer="sgd")
                         + rows("adamw", spread(600), task="sparse_parity", optimizer="adamw"))
    assert st.analyze(frame, n_boot=100)["sparse_parity"].baseline == "sgd"
    # an unregistered task: the base is the optimizer under its accelerators
    frame = pd.DataFrame(rows("opt", spread(1000), task="unknown_task", optimizer="opt")
                         + rows("acc", spread(600), task="unknown_task", optimizer="opt")
                         + rows("other", spread(600), task="unknown_task", optimizer="other"))
    assert st.analyze(frame, n_boot=100)["unknown_task"].baseline == "opt"


def test_stacks_compared_with_each_part():
    ts = analyze(rows("base", spread(2000)), rows("grokfast", spread(1000)), rows("egd", spread(800)),
                 rows("grokfast+egd", spread(100)))
    pairs = {(c.method, c.reference) for c in ts.stacks}
    assert pairs == {("grokfast+egd", "grokfast"), ("grokfast+egd", "egd")}
    assert all(c.verdict == st.FASTER for c in ts.stacks)
    assert st.stack_parts("a+b@adamw") == ["a@adamw", "b@adamw"] and st.stack_parts("egd") == []
    assert lb.stack_rows(ts)[0]["verdict"].startswith("stack faster than")


def test_wall_time_speedup_reflects_per_step_cost():
    # 2x fewer steps but 4x the cost per step: epoch savings do not survive
    ts = analyze(rows("base", spread(2000)), rows("costly", spread(1000), seconds_per_step=0.004))
    c = ts.vs_baseline["costly"]
    assert c.speedup_steps.value == pytest.approx(2, rel=0.05)
    assert c.speedup_time.value == pytest.approx(0.5, rel=0.05)
    row = {r["method"]: r for r in lb.walltime_rows(ts)}["costly"]
    assert row["epoch savings survive?"] == "no"


def test_speedup_bounds_when_one_side_censored():
    ts = analyze(rows("base", [None] * 10), rows("m", spread(1000)))
    sp = ts.vs_baseline["m"].speedup_steps
    assert math.isinf(sp.value) and sp.bound == pytest.approx(BUDGET / 1000, rel=0.05)
    assert lb.fmt_ratio(sp).startswith("> ")
    ts = analyze(rows("base", spread(1000)), rows("m", [None] * 10))
    sp = ts.vs_baseline["m"].speedup_steps
    assert sp.value == 0.0 and lb.fmt_ratio(sp).startswith("< ")


def test_variants_of_a_label_are_not_pooled():
    a = rows("base", spread(1000))
    b = rows("base", spread(3000))
    for r in b:
        r["optimizer_params"] = {"lr": 0.05}
    frame = st.disambiguate(pd.DataFrame(a + b))
    assert sorted(set(frame["method"])) == ["base [lr=0.05]", "base [lr=0.1]"]


def _quiet_console():
    import io

    from rich.console import Console

    return Console(file=io.StringIO(), width=160)
