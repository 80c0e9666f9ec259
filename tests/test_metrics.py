import math

import pytest

from grokbench.metrics import (
    Stability,
    first_reaching,
    summarize,
    summarize_row,
    with_curve_metrics,
)
from grokbench.stats import censored_median as stats_censored_median

LEGACY = Stability.legacy()  # these curves end at their solve, as records before the window did


def curve(train, test, every=10):
    n = len(train)
    return {
        "step": [i * every for i in range(n)],
        "train_acc": train,
        "test_acc": test,
        "train_time_s": [0.5 * i for i in range(n)],
    }


def test_grokking_curve_gives_fit_t90_solve_and_plateau():
    c = curve([0.5, 0.995, 1.0, 1.0, 1.0, 1.0], [0.5, 0.5, 0.6, 0.92, 0.99, 1.0])
    m = summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=5, stability=LEGACY)
    assert (m["fit_step"], m["t90_step"], m["solve_step"]) == (10, 30, 50)
    assert m["plateau_steps"] == 40
    assert m["solve_epoch"] == 10.0 and m["fit_epoch"] == 2.0 and m["plateau_epochs"] == 8.0
    assert m["time_to_target_s"] == 2.5 and m["train_time_s"] == 2.5


def test_generalizing_before_fitting_has_zero_plateau():
    c = curve([0.5, 0.8, 0.995], [0.5, 1.0, 1.0])
    m = summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=1, stability=LEGACY)
    assert m["solve_step"] == 10 and m["fit_step"] == 20 and m["plateau_steps"] == 0


def test_unsolved_curve_has_no_solve_and_no_plateau():
    c = curve([0.5, 1.0, 1.0], [0.5, 0.91, 0.95])
    m = summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=1)
    assert m["solve_step"] is None and m["plateau_steps"] is None and m["time_to_target_s"] is None
    assert m["t90_step"] == 10 and m["train_time_s"] == 1.0


def test_first_reaching_skips_missing_values():
    assert first_reaching([None, 0.2, None, 0.95], 0.9) == 3
    assert first_reaching([], 0.9) is None


@pytest.mark.parametrize(
    "values, expected",
    [([1, 2, 3], 2), ([1, 2, None], 2), ([1, None, None], None), ([4, 2], 3.0), ([], None)],
)
def test_censored_median_ranks_unreached_last(values, expected):
    """None = not reached; an undetermined median (or no values) gives None."""
    median = stats_censored_median([math.inf if v is None else v for v in values])
    assert (None if not math.isfinite(median) else median) == expected


def test_thresholds_first_crossing_and_their_times():
    c = curve([0.5, 1.0, 1.0, 1.0, 1.0, 1.0], [0.5, 0.91, 0.96, 0.97, 1.0, 1.0])
    m = summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=5, stability=LEGACY)
    assert (m["t90_step"], m["t95_step"], m["first_cross_step"], m["solve_step"]) == (10, 20, 40, 40)
    assert (m["t90_epoch"], m["t95_epoch"]) == (2.0, 4.0)
    assert (m["t90_time_s"], m["t95_time_s"], m["time_to_target_s"]) == (0.5, 1.0, 2.0)


def test_a_crossing_that_falls_back_is_not_the_solve():
    #                     0    10   20   30   40   50   60
    c = curve([1.0] * 7, [0.5, 1.0, 0.6, 1.0, 1.0, 1.0, 0.2])
    m = summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=1, stability=Stability.legacy(2))
    assert m["first_cross_step"] == 10 and m["solve_step"] == 30 and m["relapses"] == 1
    assert m["time_to_target_s"] == 1.5  # at the sustained solve, not the first crossing
    m0 = summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=1, stability=Stability.legacy(0))
    assert m0["solve_step"] == 10 and m0["relapses"] == 0  # sustain 0: the first crossing


def test_never_sustained_is_unsolved_and_counts_every_fall():
    c = curve([1.0] * 6, [1.0, 0.3, 1.0, 0.3, 1.0, 0.2])
    m = summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=1, stability=Stability.legacy(1))
    assert m["first_cross_step"] == 0 and m["solve_step"] is None and m["relapses"] == 3


def test_a_run_reaching_the_end_of_the_curve_counts():
    c = curve([1.0] * 4, [0.5, 0.6, 0.7, 1.0])  # the budget ended right after the crossing
    assert summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=1, stability=Stability.legacy(3))["solve_step"] == 30


def test_metrics_recomputed_from_curves_for_old_records():
    import pandas as pd

    c = curve([1.0] * 4, [0.5, 0.92, 0.97, 1.0])
    row = {"curve": c, "target": 1.0, "steps_per_epoch": 10, "task_params": {"fit_threshold": 0.99},
           "t95_step": None, "solve_step": 30}
    assert summarize_row(row)["t95_step"] == 20
    assert summarize_row({**row, "curve": None}) is None
    frame = with_curve_metrics(pd.DataFrame([row, {**row, "curve": None, "solve_step": 7}]))
    assert list(frame["t95_step"])[0] == 20 and list(frame["solve_step"]) == [30, 7]
