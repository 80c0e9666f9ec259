"""normgrad: every tensor g -> g / ||g|| per seed, zero stays zero, seeds never mix."""

import torch

from grokbench import registry


def _update(grads):
    return registry.get_method("normgrad")().update(grads, {}, None, None)


def test_every_tensor_gets_unit_norm_per_seed():
    gen = torch.Generator().manual_seed(0)
    grads = {"W": torch.randn(3, 5, 4, generator=gen) * torch.tensor([1e-3, 1.0, 50.0]).reshape(3, 1, 1),
             "b": torch.randn(3, 5, generator=gen)}
    out = _update(grads)
    for name, g in out.items():
        assert torch.allclose(g.reshape(3, -1).norm(dim=1), torch.ones(3))
        assert torch.allclose(g * grads[name].reshape(3, -1).norm(dim=1).reshape(-1, *[1] * (g.dim() - 1)),
                              grads[name], atol=1e-5)  # a rescaling: the direction is kept


def test_zero_stays_zero_and_a_scalar_becomes_its_sign():
    grads = {"W": torch.zeros(2, 3, 3), "s": torch.tensor([-2.5, 0.0])}
    out = _update(grads)
    assert torch.equal(out["W"], torch.zeros(2, 3, 3))
    assert torch.equal(out["s"], torch.tensor([-1.0, 0.0]))


def test_a_stack_of_seeds_equals_seed_by_seed():
    gen = torch.Generator().manual_seed(1)
    grads = {"W": torch.randn(4, 6, 3, generator=gen)}
    grads["W"][2] = 0.0
    together = _update(grads)["W"]
    alone = torch.cat([_update({"W": grads["W"][i:i + 1]})["W"] for i in range(4)])
    assert torch.equal(together, alone)


def test_it_differs_from_egd_on_a_matrix_with_unequal_singular_values():
    egd = registry.get_method("egd")()
    G = torch.diag(torch.tensor([3.0, 1.0])).reshape(1, 2, 2)
    params = {"W": torch.zeros(1, 2, 2)}
    orthogonal = egd.update({"W": G}, params, egd.init(params, None), None)["W"]
    normalized = _update({"W": G})["W"]
    assert torch.allclose(orthogonal, torch.eye(2).reshape(1, 2, 2), atol=1e-5)
    assert torch.allclose(normalized, G / G.norm())
