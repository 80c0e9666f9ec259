"""Hand-written gradients (Task.loss_and_grad) equal autograd's."""

import pytest
import torch

from grokbench import registry, seeding
from grokbench.spec import resolve_task


def _fast_tasks():
    return [name for name, cls in registry.tasks().items() if cls(**{}).has_fast_grad]


@pytest.mark.parametrize("name", _fast_tasks())
def test_loss_and_grad_matches_autograd(name):
    task = resolve_task(name, {"sparse_parity": {"hidden": "16"}, "sparse_sum": {"hidden": "16"}}
                        if name.startswith("sparse") else {}).build()
    seeds = range(3)
    splits = [task.make_data(seeding.generator(name, s, seeding.DATA)) for s in seeds]
    inits = [task.init_params(seeding.generator(name, s, seeding.INIT)) for s in seeds]
    params = {k: torch.stack([p[k] for p in inits]).requires_grad_() for k in inits[0]}
    # perturb biases so that no case is trivially zero
    with torch.no_grad():
        for v in params.values():
            v.add_(0.1 * torch.randn(v.shape, generator=torch.Generator().manual_seed(1)))
    x = torch.stack([s.x_train[:40] for s in splits])
    y = torch.stack([s.y_train[:40] for s in splits])
    losses = task.loss(task.forward(params, x), y)
    expected = torch.autograd.grad(losses.sum(), list(params.values()))
    with torch.no_grad():
        fast_losses, fast = task.loss_and_grad(params, x, y)
    torch.testing.assert_close(fast_losses, losses.detach())
    for (k, g), e in zip(fast.items(), expected):
        assert g.shape == e.shape, k
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6, msg=k)


def test_parity_has_the_fast_path():
    assert "sparse_parity" in _fast_tasks()


# --- the hand-written MLP backward against autograd, with a bound derived from float32 -------
#
# Both paths run the same forward operations (tasks/mlp.py), so hidden layer, ReLU mask,
# outputs and losses are identical; the gradients differ only in the order in which float32
# sums their terms. Every gradient entry is a sum of B terms (B = batch), each a product of
# at most 3 factors; a float32 evaluation of such a sum, in any order, is within
# gamma(B + 3) * A of the exact value, where A is the sum of the terms' absolute values and
# gamma(m) = m u / (1 - m u), u = 2^-24 (Higham, Accuracy and Stability, sec. 3.1). Two
# evaluations differ by at most twice that.

U32 = 2.0 ** -24


def _gamma(m: int) -> float:
    return m * U32 / (1 - m * U32)


def _mlp_setup(spec: str, seeds: int = 3, batch: int = 40):
    name, _, preset = spec.partition(":")
    task = resolve_task(spec, {}).build()
    splits = [task.make_data(seeding.generator(name, s, seeding.DATA)) for s in range(seeds)]
    inits = [task.init_params(seeding.generator(name, s, seeding.INIT)) for s in range(seeds)]
    params = {k: torch.stack([p[k] for p in inits]) for k in inits[0]}
    with torch.no_grad():  # biases away from 0, so that no term is trivially zero
        for v in params.values():
            v.add_(0.1 * torch.randn(v.shape, generator=torch.Generator().manual_seed(1)))
    x = torch.stack([s.x_train[:batch] for s in splits])
    y = torch.stack([s.y_train[:batch] for s in splits])
    return task, params, x, y


def _abs_term_sums(params, x, y, task):
    """A per gradient entry (see above), in float64, from the float32 forward's pieces."""
    p = {k: v.detach().clone().requires_grad_() for k, v in params.items()}
    out = task.forward(p, x)
    d = torch.autograd.grad(task.loss(out, y).sum(), out)[0].double().abs()  # |dL/dout| (S, B)
    with torch.no_grad():
        hidden = torch.baddbmm(p["b1"].unsqueeze(2), p["W1"], x.transpose(1, 2)).relu_().double()
        mask = (hidden > 0).double()
        w2 = p["W2"].double().abs().transpose(1, 2)  # (S, h, 1)
        return {"W1": w2 * torch.bmm(mask, d.unsqueeze(2) * x.double().abs()),
                "b1": (w2 * torch.bmm(mask, d.unsqueeze(2))).squeeze(2),
                "W2": torch.bmm(d.unsqueeze(1), hidden.transpose(1, 2)),
                "b2": d.sum(dim=1)}


@pytest.mark.parametrize("spec", ["sparse_parity", "sparse_parity:k5", "sparse_sum"])
def test_mlp_backward_equals_autograd_within_the_float32_bound(spec):
    task, params, x, y = _mlp_setup(spec)
    p = {k: v.clone().requires_grad_() for k, v in params.items()}
    losses = task.loss(task.forward(p, x), y)
    expected = dict(zip(p, torch.autograd.grad(losses.sum(), list(p.values()))))
    with torch.no_grad():
        fast_losses, fast = task.loss_and_grad({k: v.clone() for k, v in params.items()}, x, y)
    assert torch.equal(fast_losses, losses.detach())  # same forward operations
    bound = _abs_term_sums(params, x, y, task)
    tol = 2 * _gamma(x.shape[1] + 3)
    for k, e in expected.items():
        assert fast[k].shape == e.shape, k
        assert bound[k].gt(0).any(), k  # the comparison is not vacuous
        excess = (fast[k].double() - e.double()).abs() - tol * bound[k]
        assert excess.max().item() <= 0.0, (k, excess.max().item())


def test_method_stack_steps_equal_with_and_without_the_hand_written_backward(monkeypatch):
    """One engine step of Grokfast on SGD (g' = (1 + lamb) g at the first step, then
    p <- p (1 - lr wd) - lr g'), through ``trial.train_step``: the fast path and autograd's
    give parameters within lr (1 + lamb) times the gradient bound, plus the update's own
    rounding (a few ulps of p, and of the increment)."""
    from grokbench.plan import build_plan
    from grokbench.seedbatch import SeedBatch
    from grokbench.spec import parse_overrides
    from grokbench.task import Task
    from grokbench.trial import build_chain, train_step

    def one_step():
        cell = build_plan("sparse_parity", "grokfast", "0-2", parse_overrides([])).cells(set(), 3)[0]
        task = cell.task.build()
        chain, _ = build_chain(cell)
        batch = SeedBatch.build(task, "sparse_parity", cell.method.stream_label, cell.seeds, chain,
                                torch.device("cpu"))
        before = {k: v.detach().clone() for k, v in batch.params.items()}
        train_step(task, chain, batch, 0, task.schedule(batch.n_train))
        return task, chain, before, batch.ctx.batch, {k: v.detach().clone() for k, v in batch.params.items()}

    task, chain, before, (xb, yb), fast = one_step()
    assert task.has_fast_grad
    monkeypatch.setattr(Task, "has_fast_grad", property(lambda self: False))
    _, _, before_slow, _, slow = one_step()
    for k in before:
        assert torch.equal(before[k], before_slow[k])  # same seeds, same draws
    opt, lamb = chain.optimizer, chain.transforms[0].lamb
    scale = opt.lr * (1 + lamb)
    bound = _abs_term_sums(before, xb, yb, task)
    for k in fast:
        moved = (fast[k] - before[k]).abs().double()
        tol = scale * 2 * _gamma(xb.shape[1] + 3) * bound[k] + 4 * U32 * (before[k].abs().double() + moved)
        assert moved.max() > 0, k
        assert ((fast[k].double() - slow[k].double()).abs() - tol).max().item() <= 0.0, k
