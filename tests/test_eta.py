"""grokbench.eta: the ETA from measured step costs and remaining budgets, on a fake clock."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from grokbench.eta import Eta, EtaTracker, eta_seconds, format_eta


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cell(task: str, method: str, seeds: tuple[int, ...]):
    """A stand-in for plan.Cell with what the tracker reads."""
    spec = SimpleNamespace(label=method)
    return SimpleNamespace(task=SimpleNamespace(label=task), method=spec, configs=(spec,), seeds=seeds,
                           keys=lambda: [f"{task}/{method}/{s}" for s in seeds])


def test_pure_estimate_sums_steps_times_cost_over_concurrency():
    assert eta_seconds([(100, 0.5), (40, 2.0)], concurrency=1.0) == Eta(130.0, False)
    assert eta_seconds([(100, 0.5), (40, 2.0)], concurrency=2.0) == Eta(65.0, False)
    assert eta_seconds([(100, 0.5), (7, None)], concurrency=1.0) == Eta(50.0, True)  # unmeasured: partial
    assert eta_seconds([(5, None)], concurrency=1.0) is None                         # nothing measured
    assert eta_seconds([(-3, 1.0)], concurrency=1.0) == Eta(0.0, False)             # past the budget: none left
    assert eta_seconds([], concurrency=0.0) == Eta(0.0, False)                      # no cell left


def test_tracker_counts_running_and_pending_cells_by_their_budget():
    clock = FakeClock()
    eta = EtaTracker(clock=clock)
    a, b = cell("parity", "sgd", (0, 1)), cell("parity", "sgd", (2, 3))
    eta.add_cells([a, b])
    assert eta.estimate() is None                 # nothing measured yet
    eta.on_eval(a, 10, 100)
    clock.now = 5.0
    eta.on_eval(a, 20, 100)                       # 10 steps in 5 s: 0.5 s per step
    # a: 80 steps left; b: not started, the task's budget of 100 steps; concurrency 5/5 = 1
    assert eta.estimate().seconds == pytest.approx((80 + 100) * 0.5)
    assert format_eta(eta.estimate()) == "ETA 1m30s"


def test_a_cell_that_solves_early_drops_its_unspent_budget():
    clock = FakeClock()
    eta = EtaTracker(clock=clock)
    a, b = cell("parity", "egd", (0, 1)), cell("parity", "egd", (2, 3))
    eta.add_cells([a, b])
    eta.on_eval(a, 10, 100)
    clock.now = 1.0
    eta.on_eval(a, 20, 100)
    before = eta.estimate().seconds
    eta.on_record("parity/egd/0")
    assert eta.estimate().seconds == pytest.approx(before)   # one seed of a still open
    eta.on_record("parity/egd/1")                              # both solved at step 20
    assert eta.estimate().seconds == pytest.approx(100 * 0.1)  # only b's budget is left
    assert eta.estimate().seconds < before
    eta.on_record("parity/egd/2")
    eta.on_record("parity/egd/3")
    assert eta.estimate() == Eta(0.0, False)                   # all done


def test_parallel_cells_divide_the_estimate_and_unknown_tasks_mark_it_partial():
    clock = FakeClock()
    eta = EtaTracker(clock=clock)
    a, b, c = cell("parity", "sgd", (0,)), cell("parity", "sgd", (1,)), cell("transformer", "adamw", (0,))
    eta.add_cells([a, b, c])
    eta.on_eval(a, 10, 100)
    eta.on_eval(b, 10, 100)
    clock.now = 10.0
    eta.on_eval(a, 20, 100)                       # each cell: 10 steps in 10 s, both at once
    eta.on_eval(b, 20, 100)
    estimate = eta.estimate()
    assert estimate.seconds == pytest.approx((80 + 80) * 1.0 / 2.0)  # concurrency 20 s / 10 s
    assert estimate.partial                       # the transformer has no measured cost yet
    assert format_eta(estimate).startswith("ETA >")


def test_an_unseen_method_borrows_its_tasks_cost_and_waves_keep_costs():
    clock = FakeClock()
    eta = EtaTracker(clock=clock)
    a = cell("parity", "sgd[lr=0.1]", (0,))
    eta.add_cells([a])
    eta.on_eval(a, 10, 50)
    clock.now = 4.0
    eta.on_eval(a, 30, 50)                        # 0.2 s per step
    eta.forget_cells()                            # the next wave of a tuning study
    now, later = cell("parity", "sgd[lr=0.3]", (0,)), cell("parity", "sgd[lr=1]", (0,))
    eta.add_cells([now])
    eta.add_cells([later], later=True)
    assert eta.estimate().seconds == pytest.approx(2 * 50 * 0.2)
    assert not eta.estimate().partial
    eta.on_record("parity/sgd[lr=0.3]/0")         # this wave's cell is done; the later one stays
    assert eta.estimate().seconds == pytest.approx(50 * 0.2)


def test_format():
    assert format_eta(None) == "ETA ?"
    assert format_eta(Eta(42.4, False)) == "ETA 42s"
    assert format_eta(Eta(3725, False)) == "ETA 1h02m"
