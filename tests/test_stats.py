"""grokbench.stats on synthetic records with known answers."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from grokbench import leaderboard as lb
from grokbench import stats as st

BUDGET = 10_000
SPE = 10  # steps per epoch


def rows(method: str, steps, *, task: str = "synthetic", seeds=None, statuses=None, seconds_per_step=0.001,
         transforms=None, optimizer="base", baseline=None):
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
            "base": optimizer, "baseline": baseline or optimizer,
            "parts": [p.strip() for p in method.split("+")] if "+" in method else [],
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
    assert c.p_logrank > 0.9 and c.p_adjusted == 1.0  # every seed tied
    assert (c.sign.wins, c.sign.losses, c.sign.ties) == (0, 0, 10)
    assert c.verdict == st.NO_DIFF
    assert c.speedup_steps.value == pytest.approx(1.0)
    lo, hi = c.speedup_steps.ci
    assert lo <= 1.0 <= hi


def test_same_distribution_random_draws_give_large_p():
    rng = np.random.default_rng(1)
    a = [int(x) for x in rng.exponential(1000, 12) + 10]
    b = [int(x) for x in rng.exponential(1000, 12) + 10]
    c = analyze(rows("base", a), rows("other", b)).vs_baseline["other"]
    assert c.p_logrank > 0.1 and c.p_adjusted > 0.1 and c.verdict == st.NO_DIFF


def test_clearly_separated_give_small_p_and_direction():
    ts = analyze(rows("base", spread(2000)), rows("fast", spread(200)), rows("slow", spread(6000)))
    fast, slow = ts.vs_baseline["fast"], ts.vs_baseline["slow"]
    assert fast.p_logrank < 0.01 and fast.p_adjusted < 0.05 and fast.verdict == st.FASTER
    assert slow.p_logrank < 0.01 and slow.verdict == st.SLOWER
    assert fast.sign.wins == 10 and slow.sign.losses == 10
    assert fast.p_sign == pytest.approx(2 / 2**10)  # the smallest two-sided p with 10 seeds
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


def test_bonferroni_over_a_fixed_family_size():
    assert st.bonferroni([0.001, 0.02, None, float("nan")], family_size=16) == pytest.approx(
        [0.016, 0.32, None, None], nan_ok=True)
    assert st.bonferroni([0.01] * 20, family_size=16)[0] == pytest.approx(0.2)  # more tests than the size
    assert st.bonferroni([0.5], family_size=16) == [1.0]


def test_a_comparison_keeps_its_p_and_verdict_when_other_methods_join():
    """The family is fixed, not whatever shares the page: adding methods (one much faster,
    one much slower) leaves a comparison's adjusted p and verdict as they were."""
    base = spread(2000)
    a = rows("a", [b // 2 if i < 9 else b * 2 for i, b in enumerate(base)])
    alone = analyze(rows("base", base), a).vs_baseline["a"]
    others = (rows("fast", [b // 4 for b in base]), rows("slow", [b * 3 for b in base]))
    joined = analyze(rows("base", base), a, *others).vs_baseline["a"]
    assert joined.p_adjusted == alone.p_adjusted == pytest.approx(st.FAMILY_SIZE * alone.p_sign)
    assert joined.verdict == alone.verdict and joined.family == alone.family == "synthetic / vs baseline / target"
    for t in st.THRESHOLDS:
        one = analyze(rows("base", base), a).at_threshold[t]["a"]
        three = analyze(rows("base", base), a, *others).at_threshold[t]["a"]
        assert (one.p_adjusted, one.verdict) == (three.p_adjusted, three.verdict)


def test_median_interval_is_the_exact_order_statistic_interval_and_covers():
    assert st.order_stat_ranks(10)[0] == 2  # [x(2), x(9)] for 10 values (REFERENCES.md)
    e = st.median_ci([float(v) for v in range(1, 11)])
    assert e.ci == (2.0, 9.0) and e.note == ""
    rng = np.random.default_rng(123)
    true_median = 1000.0 * math.log(2)
    reps, hits = 400, 0
    for _ in range(reps):
        lo, hi = st.median_ci(rng.exponential(1000.0, 25)).ci
        hits += lo <= true_median <= hi
    coverage = st.order_stat_ranks(25)[1]
    assert coverage >= 0.95
    # exact coverage >= 95%: 400 draws fall more than 3 sd below it with probability < 0.002
    assert hits >= reps * coverage - 3 * math.sqrt(reps * coverage * (1 - coverage))


def test_a_zero_width_median_interval_says_identical_and_few_seeds_say_coverage():
    e = st.median_ci([4.0] + [5.0] * 8 + [9.0])
    assert e.ci == (5.0, 5.0) and "identical: 8 of 10 seeds" in e.note
    assert "interval" in st.median_ci([1.0, 2.0, 3.0]).note  # 3 values: 75% at most
    e = st.median_ci([3.0, 4.0, 5.0, 6.0, 7.0, 8.0, math.inf, math.inf, math.inf, math.inf])
    assert e.ci == (4.0, math.inf)  # the upper end not reached: "> budget" on the page


def test_the_identical_count_is_a_field_the_page_reads_and_survives_scaling():
    e = st.median_ci([4.0] + [5.0] * 8 + [9.0])
    assert e.identical == (8, 10) and st.median_ci([1.0, 2.0, 3.0, 4.0]).identical is None
    e.note = ""  # the page reads the field, not the note
    assert lb.fmt_median(e, 100.0).endswith(" [identical: 8 of 10 seeds]")
    assert st.scale(e, 0.5).identical == (8, 10)


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


@pytest.mark.parametrize("base, other, verdict", [
    ([1000], [500], st.NOT_ENOUGH),                          # one seed
    ([None] * 5, [None] * 5, st.NOT_ENOUGH),                 # all censored
    ([700] * 5, [700] * 5, st.NO_DIFF),                      # identical values: every seed tied, p = 1
    ([], [500, 600], st.NOT_ENOUGH),                         # baseline has no final trial
])
def test_degenerate_inputs_never_crash(base, other, verdict):
    groups = [rows("other", other)]
    if base:
        groups.append(rows("base", base))
    else:
        groups.append(rows("base", [100, 200], statuses=["error", "error"]))
    ts = analyze(*groups)
    c = ts.vs_baseline["other"]
    assert c.verdict == verdict
    for table in (lb.main_rows(ts), lb.walltime_rows(ts), lb.threshold_rows(ts)):
        for row in table:
            for cell in row.values():
                assert "nan" not in cell.lower()
    lb.print_tables({"synthetic": ts}, console=_quiet_console())


def test_baseline_missing_is_stated_not_a_crash():
    frame = pd.DataFrame(rows("egd", spread(500), task="sparse_parity", optimizer="sgd")
                         + rows("adamw", spread(600), task="sparse_parity", optimizer="adamw", baseline="sgd"))
    ts = st.analyze(frame, n_boot=100)["sparse_parity"]
    assert ts.baseline is None and "sgd" in ts.note and "not in the results" in ts.note
    assert ts.vs_baseline == {}
    assert {r["verdict"] for r in lb.main_rows(ts)} == {"no baseline"}


def test_baseline_is_the_one_the_records_name():
    frame = pd.DataFrame(rows("sgd", spread(1000), task="sparse_parity", optimizer="sgd")
                         + rows("adamw", spread(600), task="sparse_parity", optimizer="adamw", baseline="sgd"))
    assert st.analyze(frame, n_boot=100)["sparse_parity"].baseline == "sgd"
    frame = pd.DataFrame(rows("opt", spread(1000), task="any_task", optimizer="opt")
                         + rows("acc", spread(600), task="any_task", optimizer="opt")
                         + rows("other", spread(600), task="any_task", optimizer="other", baseline="opt"))
    assert st.analyze(frame, n_boot=100)["any_task"].baseline == "opt"


def test_stacks_compared_with_each_part():
    ts = analyze(rows("base", spread(2000)), rows("grokfast", spread(1000)), rows("egd", spread(800)),
                 rows("grokfast+egd", spread(100)))
    pairs = {(c.method, c.reference) for c in ts.stacks}
    assert pairs == {("grokfast+egd", "grokfast"), ("grokfast+egd", "egd")}
    assert all(c.verdict == st.FASTER for c in ts.stacks)
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


# ---------------------------------------------------------------------------- paired sign test


@pytest.mark.parametrize("a, a_horizon, b, b_horizon, expected", [
    (100, 100, 200, 200, 1),                   # both solved, a first
    (300, 300, 200, 200, -1),                  # both solved, b first
    (200, 200, 200, 200, 0),                   # same step: tie
    (9000, 9000, math.inf, math.inf, 1),       # a solved, b never (unsolved or diverged): a wins
    (math.inf, math.inf, 50, 50, -1),          # and the other way round
    (math.inf, math.inf, math.inf, math.inf, 0),  # both censored: tie
    (800, 800, math.inf, 500, 0),              # b timed out at 500 before a's solve at 800: unknown
    (400, 400, math.inf, 500, 1),              # b timed out at 500 after a's solve at 400: a wins
])
def test_pair_outcome_hand_cases(a, a_horizon, b, b_horizon, expected):
    assert st.pair_outcome(a, a_horizon, b, b_horizon) == expected


def test_sign_test_hand_computed_with_censored_pairs():
    # seed:        0    1     2     3     4     5     6    7    8    9
    method = [100, None, None, 300, None, 100, 100, 100, 100, 100]
    base = [200, 150, None, None, 50, 900, 900, 900, 900, 900]
    c = analyze(rows("base", base), rows("m", method)).vs_baseline["m"]
    # wins: 0, 3 (base censored), 5-9; losses: 1, 4 (method censored); tie: 2 (both censored)
    assert (c.sign.wins, c.sign.losses, c.sign.ties) == (7, 2, 1)
    expected = 2 * sum(math.comb(9, k) for k in range(3)) / 2**9  # two-sided binomial, 2 of 9
    assert c.p_sign == pytest.approx(expected)  # 0.1797
    assert c.verdict == st.NO_DIFF


def test_sign_test_nine_of_ten():
    base = spread(1000)
    method = [b * 2 for b in base[:9]] + [base[9] // 2]
    c = analyze(rows("base", base), rows("m", method)).vs_baseline["m"]
    assert (c.sign.wins, c.sign.losses) == (1, 9)
    assert c.p_sign == pytest.approx(22 / 1024)  # 2 * (1 + 10) / 2^10 = 0.0215
    # in the fixed family of 16: 0.34, not significant (10 seeds detect little; the page says so)
    assert c.p_adjusted == pytest.approx(16 * 22 / 1024) and c.verdict == st.NO_DIFF


def test_timeout_before_the_other_solve_is_a_tie():
    base_rows = rows("base", [500] * 4, statuses=["solved"] * 4)
    m_rows = rows("m", [None, None, 400, 400], statuses=["timeout", "timeout", "solved", "solved"])
    m_rows[0]["curve"] = {"step": [0, 300]}   # stopped at 300, before the baseline's 500: unknown
    m_rows[1]["curve"] = {"step": [0, 600]}   # stopped at 600, after it: the baseline was first
    c = analyze(base_rows, m_rows).vs_baseline["m"]
    assert (c.sign.wins, c.sign.losses, c.sign.ties) == (2, 1, 1)


def test_wall_time_verdict_uses_seconds():
    # 5x fewer steps at 10x the cost per step: faster in steps, slower in wall time
    ts = analyze(rows("base", spread(2000)), rows("costly", spread(400), seconds_per_step=0.01))
    c = ts.vs_baseline["costly"]
    assert c.verdict == st.FASTER and c.time_verdict == st.SLOWER
    assert c.time_sign.losses == 10


# ---------------------------------------------------------------------------- thresholds


def with_thresholds(group, t90, t95):
    """Rows with steps to 0.90 and 0.95 (None: not reached)."""
    for r, a, b in zip(group, t90, t95):
        r["t90_step"], r["t95_step"] = a, b
        r["t90_time_s"], r["t95_time_s"] = (a and a * 0.001), (b and b * 0.001)
    return group


def test_verdict_per_threshold_robust_and_flipping():
    base = with_thresholds(rows("base", spread(2000)), spread(1000), spread(1500))
    steady = with_thresholds(rows("steady", spread(500)), spread(200), spread(300))
    early = with_thresholds(rows("early", spread(5000)), spread(100), spread(150))  # fast to 0.90, slow to target
    ts = analyze(base, steady, early)
    assert ts.verdicts("steady") == {"t90": st.FASTER, "t95": st.FASTER, "target": st.FASTER}
    assert ts.consistency("steady") == st.ROBUST
    assert ts.verdicts("early") == {"t90": st.FASTER, "t95": st.FASTER, "target": st.SLOWER}
    assert ts.consistency("early") == st.FLIPS
    assert ts.methods["early"].median_steps_at("t90") == pytest.approx(st.censored_median(spread(100)))
    rows_by_method = {r["method"]: r for r in lb.threshold_rows(ts)}
    assert rows_by_method["early"]["across thresholds"] == st.FLIPS
    assert rows_by_method["base"]["verdict at 0.90"] == st.BASELINE


def test_consistency_rules():
    assert st.consistency([st.FASTER] * 3) == st.ROBUST
    assert st.consistency([st.FASTER, st.NO_DIFF, st.FASTER]) == st.DEPENDS
    assert st.consistency([st.SLOWER, st.FASTER, st.NO_DIFF]) == st.FLIPS
    assert st.consistency([st.NO_DIFF, st.NOT_ENOUGH, st.NO_DIFF]) == ""
    assert st.consistency([st.FASTER, st.FASTER]) == st.DEPENDS  # a threshold without a test


# ---------------------------------------------------------------------------- honest intervals


def test_interval_bounds_hold_for_any_latent_times():
    """Where a resample's median is censored, the interval ends are bounds: whatever the
    censored trials' true times beyond the budget, the true ends lie on the stated side."""
    base = np.array([800, 900, 1000, 1100, 1200, 1300, np.inf, np.inf, np.inf, np.inf])
    method = np.array([500, 600, 650, 700, 750, 800, 850, 900, 950, np.inf])
    budget = np.full(10, float(BUDGET))
    idx = np.random.default_rng(5).integers(0, 10, size=(400, 10))
    e = st.ratio_ci(base, budget, method, budget, None, 400, idx)
    assert e.ci is not None and all(math.isfinite(x) and x > 0 for x in e.ci)
    assert e.hi_open  # some resamples have the baseline's median beyond the budget
    rng = np.random.default_rng(0)
    for _ in range(20):
        latent_b = np.where(np.isinf(base), BUDGET + rng.uniform(1, 50_000, 10), base)
        latent_m = np.where(np.isinf(method), BUDGET + rng.uniform(1, 50_000, 10), method)
        true = np.median(latent_b[idx], axis=1) / np.median(latent_m[idx], axis=1)
        lo, hi = st._quantile_bounds(true)
        assert (lo <= e.ci[0] + 1e-9) if e.lo_open else lo == pytest.approx(e.ci[0])
        assert (hi >= e.ci[1] - 1e-9) if e.hi_open else hi == pytest.approx(e.ci[1])
    text = lb.fmt_ratio(e)
    assert "> " in text.split("[", 1)[1] and "inf" not in text and "∞" not in text


@pytest.mark.parametrize("base, method", [
    ([None] * 10, spread(1000)),                  # baseline never solves
    (spread(1000), [None] * 10),                  # method never solves
    ([None] * 10, [None] * 10),                   # neither
    (spread(1000)[:5] + [None] * 5, spread(900)[:6] + [None] * 4),
])
def test_no_infinite_or_degenerate_interval_in_any_cell(base, method):
    ts = analyze(rows("base", base), rows("m", method))
    cells = [cell for table in (lb.main_rows(ts), lb.walltime_rows(ts), lb.threshold_rows(ts))
             for row in table for cell in row.values()]
    for cell in cells:
        assert "∞" not in cell and not re.search(r"\binf\b", cell) and "[0, 0]" not in cell, cell
        assert "unbounded" not in cell, cell


# ---------------------------------------------------------------------------- profiles


def _task(label, medians):
    """A TaskStats with these median steps to target per method (inf: censored)."""
    methods = {}
    for m, v in medians.items():
        sample = st.make_sample(rows(m, [None if math.isinf(v) else int(v)] * 3))
        methods[m] = st.MethodStats(m, sample, st.Estimate(v, None), st.Estimate(v / 100, None),
                                    st.Estimate(0.0, None), None, {st.TARGET: sample})
    return st.TaskStats(label, None, methods, {}, [])


def test_performance_profiles_and_scores():
    analysis = {
        "t1": _task("t1", {"a": 100, "b": 200, "c": 150}),
        "t2": _task("t2", {"a": 400, "b": math.inf}),           # c did not run on t2
        "t3": _task("t3", {"a": math.inf, "b": math.inf}),      # nobody's median: left out
    }
    profiles, left_out = st.performance_profiles(analysis, "steps")
    assert left_out == ["t3"]
    a, b, c = profiles["a"], profiles["b"], profiles["c"]
    assert a.ratios == {"t1": 1.0, "t2": 1.0} and a.score == pytest.approx(1.0)
    assert b.ratios == {"t1": 2.0, "t2": math.inf}
    assert b.rho(1.99) == 0.0 and b.rho(2.0) == 0.5 and b.rho(4.0) == 0.5
    assert b.score == pytest.approx(((4 - 2) / 3 + 0) / 2)
    assert c.n_tasks == 1 and c.score == pytest.approx((4 - 1.5) / 3)  # judged on t1 only
    seconds, _ = st.performance_profiles(analysis, "seconds")
    assert seconds["b"].ratios["t1"] == pytest.approx(2.0)


def test_calibrated_step_costs_replace_measured_seconds():
    """With a calibrated per-seed step cost on every row, seconds = steps x cost + setup and
    the measured in-loop seconds are kept beside them; without, the measured ones are used."""
    measured = rows("m", [100, 200, 300, None], seconds_per_step=0.5)
    sample = st.make_sample(measured)
    assert not sample.seconds_calibrated and list(sample.seconds[:3]) == [50.0, 100.0, 150.0]
    for r in measured:
        r.update({"calibrated_step_cost_s": 0.001, "calibrated_setup_s": 0.25})
    sample = st.make_sample(measured)
    assert sample.seconds_calibrated
    assert list(sample.seconds[:3]) == pytest.approx([0.35, 0.45, 0.55]) and math.isinf(sample.seconds[3])
    assert sample.seconds_censor[3] == pytest.approx(BUDGET * 0.001 + 0.25)
    assert list(sample.measured_seconds[:3]) == [50.0, 100.0, 150.0]
    measured[0]["calibrated_step_cost_s"] = None  # one uncalibrated trial: the method is not calibrated
    assert not st.make_sample(measured).seconds_calibrated


def test_on_the_tuned_base_keeps_the_base_settings_an_accelerator_fixes():
    """wnclip tunes sgd.lr but fixes weight decay at 0: its "on the tuned base" control runs
    the baseline's lr and weight decay 0, and is matched to it; a control at another lr is not."""
    base = {"optimizer": "sgd", "optimizer_params": {"lr": 0.02, "weight_decay": 0.03}, "transforms": [],
            "tuned": {"space": {"sgd.lr": "log", "sgd.weight_decay": "log"}}}
    clip = [{"name": "wnclip", "params": {"max_norm": 2.0}}]
    accelerator = {"optimizer": "sgd", "optimizer_params": {"lr": 0.16, "weight_decay": 0.0}, "transforms": clip,
                   "tuned": {"space": {"sgd.lr": "log", "wnclip.max_norm": "linear"}}}
    control = {**accelerator, "control": st.ON_THE_TUNED_BASE, "tuned": None,
               "optimizer_params": {"lr": 0.02, "weight_decay": 0.0}}
    stale = {**control, "optimizer_params": {"lr": 0.05, "weight_decay": 0.0}}
    by_method = {"sgd": [base], "wnclip": [accelerator], "wnclip[lr=0.02,max_norm=2]": [control],
                 "wnclip[lr=0.05,max_norm=2]": [stale]}
    pairs = st.control_pairs(by_method, "sgd")
    assert pairs[st.ON_THE_TUNED_BASE] == [("wnclip", "wnclip[lr=0.02,max_norm=2]")]
    del accelerator["tuned"]["space"]  # no search space on record: every base setting must be the baseline's
    accelerator["tuned"] = {"config": "wnclip"}
    assert st.control_pairs(by_method, "sgd")[st.ON_THE_TUNED_BASE] == []
