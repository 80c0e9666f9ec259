"""Muon against torch.optim.Muon (and AdamW for the rest), seed batching, parameter split."""

from __future__ import annotations

import pytest
import torch
from grokbench.methods._linalg import newton_schulz
from grokbench.methods.muon import adjust_lr, muon_matrices
from helpers import run_cli

from grokbench import StepContext, registry
from grokbench.spec import resolve_method, resolve_task

torch.set_num_threads(1)


def ctx(S: int, lr: float, step: int = 0) -> StepContext:
    x = torch.zeros(S, 1, 1)
    gens = [torch.Generator().manual_seed(s) for s in range(S)]
    return StepContext(step, lambda p, x, y: x.sum(), (x, x), None, gens, torch.device("cpu"), lr=lr)


def muon(**params):
    return registry.get_method("muon")(**params)


def run_ours(opt, params: dict[str, torch.Tensor], grads: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    params = {k: v.clone() for k, v in params.items()}
    state = opt.init(params, ctx(next(iter(params.values())).shape[0], opt.lr))
    for step, g in enumerate(grads):
        opt.step(g, params, state, ctx(g[next(iter(g))].shape[0], opt.lr_at(step), step))
    return params


def gradient_sequence(shapes: dict[str, tuple[int, ...]], n: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [{k: torch.randn(*s, generator=g) for k, s in shapes.items()} for _ in range(n)]


@pytest.mark.parametrize("shape", [(12, 8), (8, 12), (10, 10)])
@pytest.mark.parametrize("nesterov", [True, False])
def test_one_matrix_equals_torch_optim_muon(shape, nesterov):
    settings = {"lr": 0.02, "weight_decay": 0.1, "momentum": 0.95, "nesterov": nesterov}
    # torch runs Newton-Schulz in bfloat16 on every device
    w0 = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    grads = gradient_sequence({"W": (1, *shape)}, 6)
    # "W" is the only matrix: name it explicitly for Muon (auto would call it the output head)
    ours = run_ours(muon(**settings, adamw_params="", ns_dtype="bfloat16"), {"W": w0[None]}, grads)["W"][0]
    ref = torch.nn.Parameter(w0.clone())
    opt = torch.optim.Muon([ref], **settings)
    for g in grads:
        ref.grad = g["W"][0].clone()
        opt.step()
    moved = (ref.detach() - w0).abs().max()
    assert moved > 0.05  # the steps were not negligible
    torch.testing.assert_close(ours, ref.detach(), atol=1e-6, rtol=0)  # bitwise equal on a CPU


def test_the_rest_equals_torch_adamw():
    shapes = {"wte": (1, 7, 4), "h0.w_in": (1, 8, 4), "h0.b_in": (1, 8), "w_u": (1, 5, 4)}
    g = torch.Generator().manual_seed(2)
    start = {k: torch.randn(*s, generator=g) for k, s in shapes.items()}
    grads = gradient_sequence(shapes, 5, seed=3)
    ours = run_ours(muon(adamw_lr=0.01, adamw_weight_decay=0.05, adamw_betas=(0.9, 0.98)), start, grads)
    rest = ["wte", "h0.b_in", "w_u"]
    refs = [torch.nn.Parameter(start[k][0].clone()) for k in rest]
    opt = torch.optim.AdamW(refs, lr=0.01, weight_decay=0.05, betas=(0.9, 0.98))
    for gs in grads:
        for p, k in zip(refs, rest):
            p.grad = gs[k][0].clone()
        opt.step()
    for p, k in zip(refs, rest):
        torch.testing.assert_close(ours[k][0], p.detach(), atol=1e-6, rtol=1e-6)


def test_two_seeds_batched_equal_each_alone():
    shapes = {"W1": (2, 16, 6), "b1": (2, 16), "W2": (2, 1, 16)}
    g = torch.Generator().manual_seed(4)
    start = {k: torch.randn(*s, generator=g) for k, s in shapes.items()}
    grads = gradient_sequence(shapes, 4, seed=5)
    opt = muon(lr=0.02, warmup_steps=2)
    both = run_ours(opt, start, grads)
    for s in range(2):
        alone = run_ours(opt, {k: v[s:s + 1] for k, v in start.items()},
                         [{k: v[s:s + 1] for k, v in gs.items()} for gs in grads])
        for k in shapes:
            torch.testing.assert_close(both[k][s:s + 1], alone[k], atol=1e-6, rtol=1e-5)


def test_parameter_split_follows_common_practice():
    transformer = {"wte": torch.zeros(1, 9, 4), "wpe": torch.zeros(1, 3, 4), "h0.wq": torch.zeros(1, 4, 4),
                   "h0.w_in": torch.zeros(1, 8, 4), "h0.b_in": torch.zeros(1, 8), "lnf.g": torch.zeros(1, 4),
                   "w_u": torch.zeros(1, 7, 4)}
    assert muon_matrices(transformer, "auto") == ["h0.wq", "h0.w_in"]
    mlp = {"W1": torch.zeros(1, 20, 5), "b1": torch.zeros(1, 20), "W2": torch.zeros(1, 1, 20), "b2": torch.zeros(1)}
    assert muon_matrices(mlp, "auto") == ["W1"]
    assert muon_matrices(transformer, "h0.*") == ["wte", "wpe", "w_u"]
    assert muon_matrices(transformer, "") == ["wte", "wpe", "h0.wq", "h0.w_in", "w_u"]


def test_momentum_free_muon_is_newton_schulz_of_the_gradient():
    """Muon without momentum or decay steps by -lr * adjust * NS(g): sketched_egd:ns's factor."""
    W = torch.randn(2, 12, 5, generator=torch.Generator().manual_seed(6))
    g = torch.randn(2, 12, 5, generator=torch.Generator().manual_seed(7))
    out = run_ours(muon(lr=0.05, momentum=0.0, weight_decay=0.0, ns_dtype="float32", adamw_params=""),
                   {"W": W}, [{"W": g}])["W"]
    expected = W - adjust_lr(0.05, "original", (12, 5)) * newton_schulz(g)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    sk = registry.get_method("sketched_egd")(sketch="newton_schulz", include="W")
    c = ctx(2, 0.05)
    torch.testing.assert_close(sk.update({"W": g}, {"W": W}, sk.init({"W": W}, c), c)["W"], newton_schulz(g))


def test_warmup_scales_both_learning_rates():
    """Halfway through the warm-up, Muon's and its AdamW part's rates are both halved."""
    start = {"W1": torch.ones(1, 4, 2), "b1": torch.ones(1, 4), "W2": torch.ones(1, 1, 4)}
    grads = gradient_sequence({k: tuple(v.shape) for k, v in start.items()}, 1)[0]
    cold_opt = muon(lr=0.02, warmup_steps=4, weight_decay=0.0, adamw_weight_decay=0.0)
    warm_opt = muon(lr=0.01, adamw_lr=0.5e-3, weight_decay=0.0, adamw_weight_decay=0.0)
    assert cold_opt.lr_at(0) == 0.0 and cold_opt.lr_at(2) == pytest.approx(0.01)
    cold, warm = ({k: v.clone() for k, v in start.items()} for _ in range(2))
    cold_opt.step(grads, cold, cold_opt.init(cold, ctx(1, 0.0)), ctx(1, cold_opt.lr_at(2), 2))
    warm_opt.step(grads, warm, warm_opt.init(warm, ctx(1, 0.0)), ctx(1, warm_opt.lr_at(0), 0))
    for k in start:
        torch.testing.assert_close(cold[k], warm[k], atol=1e-7, rtol=0)
        assert not torch.equal(cold[k], start[k])


def test_muon_is_listed_and_resolves_on_every_task(capsys):
    assert run_cli("list") == 0
    assert "muon" in capsys.readouterr().out
    for task in ("sparse_parity", "sparse_sum", "modular_addition", "modular_addition:nanda"):
        spec = resolve_method("muon", resolve_task(task, {}), {})
        assert spec.optimizer.name == "muon"
    assert adjust_lr(1.0, "match_rms_adamw", (16, 4)) == pytest.approx(0.8)


def test_state_follows_the_engine_dropping_finished_seeds():
    from grokbench.seedbatch import index_state

    shapes = {"W1": (3, 16, 6), "b1": (3, 16), "W2": (3, 1, 16)}
    g = torch.Generator().manual_seed(8)
    start = {k: torch.randn(*s, generator=g) for k, s in shapes.items()}
    grads = gradient_sequence(shapes, 4, seed=9)
    opt = muon(lr=0.02)
    params = {k: v.clone() for k, v in start.items()}
    state = opt.init(params, ctx(3, opt.lr))
    keep = torch.tensor([0, 2])
    for step, gs in enumerate(grads):
        if step == 2:
            state, params = index_state(state, keep), {k: v[keep].clone() for k, v in params.items()}
        live = gs if step < 2 else {k: v[keep] for k, v in gs.items()}
        opt.step(live, params, state, ctx(len(next(iter(live.values()))), opt.lr, step))
    direct = run_ours(opt, {k: v[keep] for k, v in start.items()}, [{k: v[keep] for k, v in gs.items()} for gs in grads])
    for k in shapes:
        torch.testing.assert_close(params[k], direct[k], atol=1e-6, rtol=1e-5)
