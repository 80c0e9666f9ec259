import math

import pytest

from grokbench.metrics import first_reaching, summarize
from grokbench.stats import censored_median as stats_censored_median


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
    m = summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=5)
    assert (m["fit_step"], m["t90_step"], m["solve_step"]) == (10, 30, 50)
    assert m["plateau_steps"] == 40
    assert m["solve_epoch"] == 10.0 and m["fit_epoch"] == 2.0 and m["plateau_epochs"] == 8.0
    assert m["time_to_target_s"] == 2.5 and m["train_time_s"] == 2.5


def test_generalizing_before_fitting_has_zero_plateau():
    c = curve([0.5, 0.8, 0.995], [0.5, 1.0, 1.0])
    m = summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=1)
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
