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
