"""The tasks: sparse_parity (k=3, k=5), sparse_sum, modular_addition.

Fast checks: deterministic builds, label sets, tiny configs training under sgd and adamw
through the real engine, sparse_sum's divergence recorded as a status.
"""

from __future__ import annotations

import pytest
import torch

from grokbench import registry, seeding, spec
from grokbench.errors import UserError
from grokbench.plan import Cell
from grokbench.trial import run_cell

TASKS = ("sparse_parity", "sparse_sum", "modular_addition")
TINY_MODULAR = {"p": 7, "d_model": 16, "n_heads": 2, "d_mlp": 32, "max_epochs": 6, "eval_every": 2.0}


def build(name: str, preset: str | None = None, **params):
    cls = registry.get_task(name)
    values = dict(cls.presets[preset].params) if preset else {}
    values.update(params)
    return cls(**values)


def data_and_init(task, seed: int):
    split = task.make_data(seeding.generator(task.name, seed, seeding.DATA))
    init = task.init_params(seeding.generator(task.name, seed, seeding.INIT))
    return split, init


@pytest.mark.parametrize("name,preset", [("sparse_parity", None), ("sparse_parity", "k5"), ("sparse_sum", None),
                                         ("modular_addition", None), ("modular_addition", "nanda"),
                                         ("modular_addition", "grokfast"), ("modular_addition", "neuralgrok")])
def test_builds_deterministically_from_seed(name, preset):
    task = build(name, preset)
    (s1, p1), (s2, p2) = data_and_init(task, 3), data_and_init(task, 3)
    for a, b in zip((s1.x_train, s1.y_train, s1.x_test, s1.y_test), (s2.x_train, s2.y_train, s2.x_test, s2.y_test)):
        assert torch.equal(a, b)
    assert p1.keys() == p2.keys() and all(torch.equal(p1[k], p2[k]) for k in p1)
    s3, p3 = data_and_init(task, 4)
    assert not torch.equal(s1.y_train, s3.y_train) or not torch.equal(s1.x_train, s3.x_train)


def test_sparse_label_sets():
    parity = build("sparse_parity").make_data(torch.Generator().manual_seed(0))
    assert set(parity.y_train.tolist()) | set(parity.y_test.tolist()) == {-1.0, 1.0}
    k5 = build("sparse_parity", "k5")
    assert k5.k == 5 and k5.max_epochs >= 1000
    total = build("sparse_sum").make_data(torch.Generator().manual_seed(0))
    assert set(total.y_train.tolist()) == {-3.0, -1.0, 1.0, 3.0}
    assert set(total.y_test.tolist()) <= {-3.0, -1.0, 1.0, 3.0}
    assert total.x_train.shape == (1000, 20) and total.x_test.shape == (500, 20)


def test_sparse_sum_same_secret_as_parity():
    """Same inputs and secret as parity for a seed: sum and product agree on the secret bits."""
    gen = lambda: seeding.generator("x", 0, seeding.DATA)  # noqa: E731
    par, tot = build("sparse_parity").make_data(gen()), build("sparse_sum").make_data(gen())
    assert torch.equal(par.x_train, tot.x_train)
    # with k=3 bits b_i: prod = -1 exactly when an odd number are -1, i.e. sum in {1, -3}
    assert torch.equal(par.y_train == -1, (tot.y_train == 1) | (tot.y_train == -3))


@pytest.mark.parametrize("op,fn", [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b),
                                   ("mul", lambda a, b: a * b), ("sq_sub", lambda a, b: a * a - b)])
def test_modular_answers(op, fn):
    task = build("modular_addition", p=11, op=op)
    split = task.make_data(torch.Generator().manual_seed(0))
    for x, y in ((split.x_train, split.y_train), (split.x_test, split.y_test)):
        assert x.shape[1] == 3 and (x[:, 2] == 11).all()  # [a, b, =]
        assert ((y >= 0) & (y < 11)).all()
        assert y.tolist() == [fn(a, b) % 11 for a, b in x[:, :2].tolist()]
    pairs = {tuple(r) for r in torch.cat([split.x_train, split.x_test])[:, :2].tolist()}
    assert len(pairs) == 121 and len(split.y_train) == round(0.5 * 121)


def test_modular_op_token_and_b_min():
    task = build("modular_addition", "grokfast")
    split = task.make_data(torch.Generator().manual_seed(0))
    x = torch.cat([split.x_train, split.x_test])
    assert x.shape == (97 * 96, 4) and (x[:, 1] == 97).all() and (x[:, 3] == 98).all() and (x[:, 2] >= 1).all()
    assert task.config.vocab == 99 and task.config.n_ctx == 4
    assert task.schedule(len(split.y_train)).max_steps == 300_000
    nanda = build("modular_addition", "nanda")
    assert len(nanda.make_data(torch.Generator().manual_seed(0)).y_train) == int(0.3 * 113**2)
    with pytest.raises(UserError):
        build("modular_addition", b_min=7, p=7)


def test_tasks_all_contains_the_cpu_profiles():
    labels = spec.expand_tasks("all")
    assert sorted(labels) == ["modular_addition:cpu_add", "power_ops:cpu_div", "sparse_parity", "sparse_parity:k5",
                              "sparse_sum"]  # the v3 compute plan's tasks (docs/leaderboard.md)
    assert spec.resolve_task("modular_addition:cpu_add", {}).params["train_frac"] == 0.7
    # too slow on a CPU (the default profiles, the paper presets) or left out by the plan (S4)
    assert not {"modular_addition", "power_ops", "power_ops:template", "power_ops:cpu_s4"} & set(labels)


def test_presets_have_descriptions_and_bases():
    for name in TASKS:
        cls = registry.get_task(name)
        for preset in cls.presets.values():
            assert preset.description and "\n" not in preset.description
    cls = registry.get_task("modular_addition")
    assert set(cls.presets) >= {"nanda", "grokfast", "neuralgrok"}
    assert cls.presets["grokfast"].base_optimizer == "adam" and cls.presets["nanda"].base_optimizer == "adamw"
    nanda = spec.resolve_task("modular_addition:nanda", {})
    opt = spec.resolve_method("adamw", nanda, {}).optimizer.params
    assert opt["lr"] == 1e-3 and opt["weight_decay"] == 1.0 and tuple(opt["betas"]) == (0.9, 0.98)


@pytest.mark.parametrize("method", ["sgd", "adamw"])
@pytest.mark.parametrize("label,params", [
    ("sparse_parity", {"n_train": 64, "n_test": 32, "max_epochs": 2}),
    ("sparse_parity:k5", {"n_train": 64, "n_test": 32, "max_epochs": 2}),
    ("sparse_sum", {"n_train": 64, "n_test": 32, "max_epochs": 2}),
    ("modular_addition", TINY_MODULAR),
    ("modular_addition", {**TINY_MODULAR, "impl": "reference", "n_layers": 2, "norm": "layernorm", "act": "gelu", "batch_size": 8}),
])
def test_tiny_configs_train(label, params, method):
    name = label.split(":")[0]
    task = spec.resolve_task(label, {name: params})
    m = spec.resolve_method(method, task, {"sgd": {"lr": 0.01}} if name == "sparse_sum" else {})
    records = list(run_cell(Cell(task, m, (0, 1))))
    assert len(records) == 2
    for r in records:
        assert r.status in ("solved", "unsolved"), r.error
        assert r.curve["train_loss"][-1] is not None


def test_sparse_sum_divergence_is_a_recorded_status():
    """The reference settings (plain SGD, lr 0.1) diverge on sparse_sum: a status, no crash."""
    task = spec.resolve_task("sparse_sum", {"sparse_sum": {"max_epochs": 3}})
    records = list(run_cell(Cell(task, spec.resolve_method("sgd", task, {}), (0, 1))))
    assert [r.status for r in records] == ["diverged", "diverged"]
    assert all(r.error is None and r.curve["train_loss"][-1] is None for r in records)
    # exploding parameters: a huge step overflows the loss to inf on the first steps
    boom = list(run_cell(Cell(task, spec.resolve_method("sgd", task, {"sgd": {"lr": 1e6}}), (0,))))
    assert boom[0].status == "diverged"
