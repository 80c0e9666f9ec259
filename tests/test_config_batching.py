"""Configurations batched like seeds: variants that differ only in base-optimizer scalars
share one batched model, and each one's curves equal its curves trained alone."""

import math

import pytest

from grokbench.executors.base import lost_records
from grokbench.plan import Cell, Slot, build_plan
from grokbench.record import Status, batch_layout
from grokbench.spec import parse_overrides
from grokbench.trial import run_cell

TINY = ["sparse_parity.n_train=200", "sparse_parity.n_test=100", "sparse_parity.max_epochs=12"]
# lr 0.4 solves seeds 0-1 within 20 epochs here, lr 0.01 does not
SOLVABLE = ["sparse_parity.n_train=1000", "sparse_parity.n_test=200", "sparse_parity.max_epochs=20"]


def _plan(methods: str, seeds: str = "2", extra=()):
    return build_plan("sparse_parity", methods, seeds, parse_overrides([*TINY, *extra]))


def _cells(methods: str, seeds: str = "2", batch: int = 64, done=frozenset()):
    return _plan(methods, seeds).cells(set(done), batch)


def test_variants_of_base_scalars_share_one_cell_configuration_major():
    (cell,) = _cells("sgd[lr=0.05,0.1,0.2,0.4]", "4")
    assert [m.label for m in cell.configs] == [f"sgd[lr={lr}]" for lr in (0.05, 0.1, 0.2, 0.4)]
    assert len(cell.slots) == 16 and cell.slots[:2] == (Slot(0, 0), Slot(0, 1)) and cell.slots[4] == Slot(1, 0)
    assert len(set(cell.keys())) == 16
    assert cell.key(2, 3) == Cell(cell.task, cell.configs[3], (2,)).key(2)


def test_what_cannot_share_a_batch_gets_cells_of_its_own():
    # different accelerators, a transform setting, an optimizer without per-slot settings
    assert len(_cells("sgd,egd")) == 2
    assert len(_cells("egd[rank_rtol=0.001],egd[rank_rtol=0.000001]")) == 2
    assert len(_cells("muon[lr=0.01,0.02]")) == 2
    (cell,) = _cells("egd[lr=0.05,0.1]")  # the same transform, base lr differs
    assert len(cell.configs) == 2


def test_the_batch_limit_counts_trials_and_splits_configurations_first():
    cells = _cells("sgd[lr=0.05,0.1,0.2,0.4]", "4", batch=8)
    assert [len(c.configs) for c in cells] == [2, 2] and all(len(c.slots) == 8 for c in cells)
    cells = _cells("sgd[lr=0.05,0.1]", "4", batch=3)
    assert all(len(c.configs) == 1 and len(c.slots) <= 3 for c in cells)
    assert sorted(len(c.seeds) for c in cells) == [1, 1, 3, 3]


def test_resume_batches_only_configurations_with_the_same_seeds_to_do():
    plan = _plan("sgd[lr=0.1,0.2]", "3")
    (full,) = plan.cells(set(), 64)
    done = {full.key(0, 0)}  # seed 0 of lr=0.1 is done
    cells = plan.cells(done, 64)
    assert sorted((c.method.label, c.seeds) for c in cells) == [("sgd[lr=0.1]", (1, 2)), ("sgd[lr=0.2]", (0, 1, 2))]
    assert plan.cells(set(full.keys()), 64) == []


def _records(methods: str, batch: int, seeds: str = "2", extra=()):
    out = {}
    for cell in _plan(methods, seeds, extra).cells(set(), batch):
        for r in run_cell(cell):
            out[(r.identity["method"], r.seed)] = r
    return out


@pytest.mark.parametrize("methods, extra", [
    ("sgd[lr=0.01,0.4],sgd[lr=0.2,weight_decay=0.001]", SOLVABLE),  # lr 0.4 leaves the batch first
    ("adamw[lr=0.001,0.01],adamw[betas=(0.9,0.98),weight_decay=0.5]", ()),
    ("adam[lr=0.003,weight_decay=0,0.01]", ()),
    ("normgrad[lr=0.05,0.2]", ()),
])
def test_each_configuration_in_a_batch_equals_its_run_alone(methods, extra):
    alone = {}
    for cell in _plan(methods, extra=extra).cells(set(), 64):
        for config in cell.configs:
            for r in run_cell(Cell(cell.task, config, cell.seeds)):
                alone[(r.identity["method"], r.seed)] = r
    batched = _records(methods, 64, extra=extra)
    assert batched.keys() == alone.keys() and len(alone) >= 4
    for key, a in alone.items():
        b = batched[key]
        assert b.environment["batched_configs"] >= 2 and "batched_configs" not in a.environment
        assert (a.key, a.identity, a.status) == (b.key, b.identity, b.status), key
        assert a.curve["step"] == b.curve["step"], key
        for column in ("train_loss", "test_loss", "train_acc", "test_acc"):
            for x, y in zip(a.curve[column], b.curve[column]):
                assert math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6), (key, column, x, y)


def test_a_batched_sweep_differs_by_configuration():
    records = _records("sgd[lr=0.01,0.4]", 64, extra=SOLVABLE)
    slow, fast = records[("sgd[lr=0.01]", 0)], records[("sgd[lr=0.4]", 0)]
    assert fast.status == Status.SOLVED and slow.status == Status.UNSOLVED
    assert batch_layout(fast) == 4


def test_lost_records_name_each_missing_configuration_and_seed():
    (cell,) = _cells("sgd[lr=0.1,0.2]", "2")
    reported = {cell.key(1, 0)}
    lost = list(lost_records(cell, reported, Status.ERROR, "worker died", "2026-01-01T00:00:00+00:00", {}))
    assert sorted((r.identity["method"], r.seed) for r in lost) == [
        ("sgd[lr=0.1]", 0), ("sgd[lr=0.2]", 0), ("sgd[lr=0.2]", 1)]
    assert all(r.status == Status.ERROR and r.key in cell.keys() for r in lost)
