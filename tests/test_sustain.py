"""Stable generalization: the window, the band, the tail, the budget (grokbench.metrics'
Stability and StabilityWatch), and the finishing rule that trains through them
(SeedTrack.decide), which must agree with the metrics read off the same curve."""

from __future__ import annotations

import pytest

from grokbench.metrics import Stability, stability_of, summarize
from grokbench.record import Status
from grokbench.seedtrack import SeedTrack

EVERY = 10


def metrics(test_accs, rule, budget=None):
    c = {"step": [i * EVERY for i in range(len(test_accs))], "train_acc": [1.0] * len(test_accs),
         "test_acc": list(test_accs), "train_time_s": [0.1 * i for i in range(len(test_accs))]}
    return summarize(c, fit_threshold=0.99, target=1.0, steps_per_epoch=1, stability=rule,
                     eval_every=EVERY, budget_steps=budget)


def replay(test_accs, rule, max_steps=10_000, after_solve=0):
    """Feed evaluations to a SeedTrack until it decides -> (status, step, its curve)."""
    track = SeedTrack(0)
    for i, acc in enumerate(test_accs):
        step = i * EVERY
        track.append(step, float(step), {"train_loss": 0.1, "train_acc": 1.0, "test_loss": 0.1, "test_acc": acc})
        status = track.decide(step, 1.0, max_steps, after_solve, rule, EVERY)
        if status is not None:
            return status, step, track.curve
    return None, None, track.curve


def test_a_crossing_that_holds_less_than_its_window_then_drops_is_no_stable_solve():
    rule = Stability(min_evals=4, frac=0.0, band=0.05)
    held_three = [0.2, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]  # crossing at 10, held 3 more, dropped
    m = metrics(held_three, rule)
    assert m["first_cross_step"] == 10 and m["solve_step"] is None and m["relapses"] == 1
    assert replay(held_three, rule)[0] is None  # still training: nothing decided
    held_four = [0.2, 1.0, 1.0, 1.0, 1.0, 1.0, *[1.0] * 4]
    assert metrics(held_four, rule)["solve_step"] == 10


def test_the_window_grows_with_the_steps_so_far():
    rule = Stability(min_evals=2, frac=0.5, band=0.0)
    assert rule.window(step=40, eval_every=EVERY) == 2  # max(2, 0.5 * 4 evaluations)
    assert rule.window(step=200, eval_every=EVERY) == 10
    late = [0.0] * 20 + [1.0] * 6 + [0.0] * 30  # crossing at step 200 holds 5 < 10 evaluations
    assert metrics(late, rule)["solve_step"] is None
    early = [0.0] * 4 + [1.0] * 3 + [0.0] * 5  # crossing at step 40 holds its 2 evaluations
    assert metrics(early, rule)["solve_step"] == 40


def test_a_dip_inside_the_band_holds_and_below_it_breaks():
    rule = Stability(min_evals=3, frac=0.0, band=0.05)
    assert metrics([0.5, 1.0, 0.97, 1.0, 1.0, *[1.0] * 3], rule)["solve_step"] == 10
    m = metrics([0.5, 1.0, 0.94, 1.0, 1.0, 1.0, *[1.0] * 3], rule)
    assert m["solve_step"] == 30 and m["relapses"] == 1  # the second crossing, after the fall
    strict = Stability(min_evals=3, frac=0.0, band=0.0)
    assert metrics([0.5, 1.0, 0.998, 1.0, 1.0, 1.0, *[1.0] * 3], strict)["solve_step"] == 30


def test_a_collapse_in_the_tail_is_flagged_unstable():
    rule = Stability(min_evals=3, frac=0.0, band=0.05, tail_frac=0.0)
    stays = [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    falls = [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.3, 1.0]  # held its window (to step 40), fell at 60
    assert metrics(stays, rule)["unstable"] is False
    m = metrics(falls, rule)
    assert m["solve_step"] == 10 and m["unstable"] is True and m["stable_window_evals"] == 3
    assert metrics(stays[:5], rule)["unstable"] is None  # the tail was not watched


def test_the_tail_grows_with_the_solve_step_to_catch_slow_collapses():
    """A solve at step 200 that holds its window and falls at step 360: a tail as long as
    the window misses it; tail_frac 1 (watch to about twice the solve step) sees it."""
    accs = [0.0] * 20 + [1.0] * 16 + [0.5] * 10
    short = Stability(min_evals=3, frac=0.0, band=0.05, tail_frac=0.0)
    long = Stability(min_evals=3, frac=0.0, band=0.05, tail_frac=1.0)
    assert metrics(accs, short)["unstable"] is False and metrics(accs, long)["unstable"] is True
    assert long.tail(step=200, eval_every=EVERY) == 20 and short.tail(step=200, eval_every=EVERY) == 3


@pytest.mark.parametrize("accs, rule", [
    ([0.2, 1.0, 0.4, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0], Stability(2, 0.0, 0.0)),
    ([0.0, 0.5, 1.0, 1.0, 0.96, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], Stability(3, 0.2, 0.05)),
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], Stability(0, 0.0, 0.0)),
])
def test_the_finishing_rule_stops_when_window_and_tail_are_watched_and_agrees_with_the_metrics(accs, rule):
    status, step, curve = replay(accs, rule)
    m = metrics(curve["test_acc"], rule)
    assert status == Status.SOLVED and m["solve_step"] is not None
    tail = rule.tail(m["solve_step"], EVERY)
    assert step == m["solve_step"] + (m["stable_window_evals"] + tail) * EVERY  # window, then tail
    assert m["unstable"] is not None  # the tail was watched whole


def test_a_window_open_at_the_budget_trains_past_it_and_a_later_crossing_does_not_count():
    rule = Stability(min_evals=3, frac=0.0, band=0.0)
    crossing_at_budget = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert replay(crossing_at_budget, rule, max_steps=30)[:2] == (Status.SOLVED, 90)  # 3 + 3 evaluations
    fell_then_crossed = [0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    assert replay(fell_then_crossed, rule, max_steps=30)[:2] == (Status.UNSOLVED, 40)
    assert metrics(fell_then_crossed, rule, budget=30)["solve_step"] is None
    assert replay([0.0] * 5, rule, max_steps=30)[:2] == (Status.UNSOLVED, 30)
    assert rule.watch_steps(max_steps=30, eval_every=EVERY) == 60  # room for window and tail


def test_after_solve_takes_the_longer():
    rule = Stability(1, 0.0, 0.0)
    assert replay([1.0] * 12, rule, after_solve=6)[:2] == (Status.SOLVED, 60)
    assert replay([1.0] * 12, rule, after_solve=1)[:2] == (Status.SOLVED, 20)


def test_diverged_wins():
    track = SeedTrack(0)
    track.append(0, 0.0, {"train_loss": float("nan"), "train_acc": 0.0, "test_loss": 1.0, "test_acc": 1.0})
    assert track.decide(0, 1.0, 100, 0, Stability(), EVERY) == Status.DIVERGED


def test_records_keep_the_rule_they_were_made_under():
    assert stability_of({"sustain_evals": 1}) == Stability.legacy(1)  # before the window
    assert stability_of({}) == Stability.legacy(1)
    now = stability_of({"sustain_evals": 5, "sustain_frac": 0.1, "hold_band": 0.05, "tail_frac": 1.0})
    assert now == Stability(5, 0.1, 0.05, 1.0) and not now.cut_counts
    legacy_curve = [0.5, 0.6, 1.0, 1.0]  # stopped one evaluation after its crossing
    assert metrics(legacy_curve, Stability.legacy(1))["solve_step"] == 20
    assert metrics(legacy_curve, Stability())["solve_step"] is None  # the window was never watched


def test_a_run_writes_the_watch_into_its_records_and_reads_them_back(tmp_path):
    """End to end: the metrics of the window (unstable: true/false/null) survive the record
    format's checks, and every trial trained through its window and tail."""
    from helpers import TINY_PARITY, run_cli

    from grokbench.store import Store

    out = tmp_path / "out"
    assert run_cli("run", "--methods", "sgd", "--seeds", "3", "--out", str(out), "--quiet", "--no-calibrate",
                   "--set", "sparse_parity.max_epochs=40", *TINY_PARITY) == 0
    records = Store(out).records()
    assert len(records) == 3
    for r in records:
        assert "unstable" in r.metrics and r.metrics["unstable"] in (True, False, None)
        if r.status == Status.SOLVED:
            assert r.metrics["stable_window_evals"] >= 5 and r.metrics["unstable"] is not None
