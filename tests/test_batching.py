"""Seed-batched training equals the one-seed path: same data and init exactly, same curves
to floating-point tolerance over the first epochs."""

import math

import pytest
import torch

from grokbench import seeding
from grokbench.plan import build_plan
from grokbench.spec import parse_overrides
from grokbench.trial import run_cell

TINY = ["sparse_parity.n_train=200", "sparse_parity.n_test=100", "sparse_parity.max_epochs=5"]


def _run(batch: int, methods="sgd", seeds="4", extra=()):
    plan = build_plan("sparse_parity", methods, seeds, parse_overrides([*TINY, *extra]))
    out = {}
    for cell in plan.cells(set(), batch):
        for r in run_cell(cell):
            out[(r.identity["method"], r.seed)] = r
    return out


def test_batched_and_single_seed_curves_agree_over_the_first_epochs():
    single, batched = _run(1, "sgd,adamw"), _run(4, "sgd,adamw")
    assert single.keys() == batched.keys()
    for key in single:
        a, b = single[key].curve, batched[key].curve
        assert a["step"][:4] == b["step"][:4]
        for column in ("train_loss", "test_loss", "train_acc", "test_acc"):
            for x, y in zip(a[column][:4], b[column][:4]):
                assert math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-5), (key, column, x, y)
        assert single[key].environment["batched_seeds"] == 1
        assert batched[key].environment["batched_seeds"] == 4


def test_data_and_initialization_do_not_depend_on_the_batch():
    from grokbench.spec import resolve_task

    task = resolve_task("sparse_parity", parse_overrides(TINY)).build()
    for seed in (0, 3):
        a = task.make_data(seeding.generator("sparse_parity", seed, seeding.DATA))
        b = task.make_data(seeding.generator("sparse_parity", seed, seeding.DATA))
        assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    a0 = task.make_data(seeding.generator("sparse_parity", 0, seeding.DATA))
    a1 = task.make_data(seeding.generator("sparse_parity", 1, seeding.DATA))
    assert not torch.equal(a0.x_train, a1.x_train)


def test_time_is_apportioned_per_seed_and_grows_with_steps():
    records = _run(4)
    for r in records.values():
        times = r.curve["train_time_s"]
        assert times[0] == 0.0 and all(b >= a for a, b in zip(times, times[1:]))
        assert r.metrics["train_time_s"] == times[-1] > 0


def test_dropping_finished_seeds_from_the_batch_changes_no_result(monkeypatch):
    """Seeds solve at different epochs; compaction re-indexes data, parameters and states."""
    import grokbench.trial as trial

    extra = ["sparse_parity.n=10", "sparse_parity.k=2", "sparse_parity.hidden=64", "sparse_parity.max_epochs=30"]
    compacted = _run(6, "sgd,adamw", seeds="6", extra=extra)
    monkeypatch.setattr(trial, "COMPACT_FRACTION", 10.0)  # never compact
    full = _run(6, "sgd,adamw", seeds="6", extra=extra)
    solve_epochs = {k: r.metrics["solve_epoch"] for k, r in full.items()}
    assert len(set(solve_epochs.values())) > 2  # seeds really finish at different times
    for key in full:
        assert compacted[key].metrics["solve_epoch"] == solve_epochs[key]
        for x, y in zip(compacted[key].curve["test_loss"], full[key].curve["test_loss"]):
            assert math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6)


@pytest.mark.slow
def test_sixteen_seeds_batched_and_one_at_a_time_solve_alike():
    """The reference preset, 16 seeds: seed-batched and one-seed solve epochs come from the
    same distribution. Batching changes only the summation order, and after enough steps a
    different rounding sends a seed down another path, so how many seeds solve at exactly
    the same epoch depends on the CPU and BLAS (12 of 16 on one machine, 11 on another):
    compared statistically, at a level (0.001) that a fault shifting every seed one way
    fails (16 paired seeds one way give a sign test p of 3e-5) and rounding alone passes."""
    from scipy.stats import CensoredData, binomtest, logrank

    def solve_epochs(batch):
        plan = build_plan("sparse_parity", "sgd", "16", parse_overrides([]))
        return {r.seed: r.metrics["solve_epoch"] for c in plan.cells(set(), batch)
                for r in run_cell(c)}

    single, batched = solve_epochs(1), solve_epochs(16)
    assert all(v is not None for v in [*single.values(), *batched.values()])
    later = sum(batched[s] > single[s] for s in single)
    earlier = sum(batched[s] < single[s] for s in single)
    if later + earlier:
        assert binomtest(later, later + earlier).pvalue > 0.001, (single, batched)
    p = logrank(CensoredData(uncensored=list(single.values())), CensoredData(uncensored=list(batched.values()))).pvalue
    assert p > 0.001, (single, batched)
