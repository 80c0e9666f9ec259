"""The finishing rule (SeedTrack.decide): a solve must be sustained; a crossing that falls
back is not solved; training goes on just long enough to decide."""

from __future__ import annotations

import pytest

from grokbench.metrics import summarize
from grokbench.record import Status
from grokbench.seedtrack import SeedTrack

MAX_STEPS = 100


def replay(test_accs, sustain, after_solve=0, max_steps=MAX_STEPS, every=10):
    """Feed evaluations to a SeedTrack until it decides -> (status, step, its curve)."""
    track = SeedTrack(0)
    for i, acc in enumerate(test_accs):
        step = i * every
        track.append(step, float(step), {"train_loss": 0.1, "train_acc": 1.0, "test_loss": 0.1, "test_acc": acc})
        status = track.decide(step, 1.0, max_steps, after_solve, sustain)
        if status is not None:
            return status, step, track.curve
    return None, None, track.curve


def test_crossing_then_falling_back_is_not_solved():
    status, step, _ = replay([0.2, 1.0, 0.4, 0.3], sustain=1)
    assert status is None  # it crossed at step 10, fell back at 20: still training
    status, step, curve = replay([0.2, 1.0, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3], sustain=1)
    assert status == Status.UNSOLVED and step == MAX_STEPS
    m = summarize(curve, fit_threshold=0.99, target=1.0, steps_per_epoch=1, sustain=1)
    assert m["first_cross_step"] == 10 and m["solve_step"] is None and m["relapses"] == 1


def test_sustained_solve_stops_after_the_sustain_evaluations():
    status, step, curve = replay([0.2, 1.0, 0.4, 1.0, 1.0, 1.0, 0.0], sustain=2)
    assert status == Status.SOLVED and step == 50  # crossing at 30, held at 40 and 50
    m = summarize(curve, fit_threshold=0.99, target=1.0, steps_per_epoch=1, sustain=2)
    assert m["solve_step"] == 30 and m["first_cross_step"] == 10 and m["relapses"] == 1


def test_sustain_zero_is_the_first_crossing():
    assert replay([0.2, 1.0, 0.0], sustain=0)[:2] == (Status.SOLVED, 10)


@pytest.mark.parametrize("sustain, after_solve, stop", [(0, 2, 30), (1, 3, 40), (3, 1, 40)])
def test_after_solve_and_sustain_take_the_longer(sustain, after_solve, stop):
    status, step, _ = replay([0.2, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], sustain=sustain, after_solve=after_solve)
    assert (status, step) == (Status.SOLVED, stop)  # crossing at 10; max(sustain, after_solve) more


def test_after_solve_keeps_the_solve_when_it_later_falls():
    status, step, _ = replay([1.0, 1.0, 0.0, 0.0], sustain=1, after_solve=3)
    assert (status, step) == (Status.SOLVED, 30)


def test_budget_ending_inside_the_window_counts_what_held():
    assert replay([0.2, 0.3, 1.0], sustain=3, max_steps=20)[:2] == (Status.SOLVED, 20)
    assert replay([0.2, 1.0, 0.3], sustain=3, max_steps=20)[:2] == (Status.UNSOLVED, 20)


def test_diverged_wins():
    track = SeedTrack(0)
    track.append(0, 0.0, {"train_loss": float("nan"), "train_acc": 0.0, "test_loss": 1.0, "test_acc": 1.0})
    assert track.decide(0, 1.0, MAX_STEPS, 0) == Status.DIVERGED
