"""The accelerators against their math, on small tensors."""

from __future__ import annotations

import math

import pytest
import torch
from grokbench.methods._linalg import numerical_zero_rtol, orth_svd, orthogonalize
from helpers import read_records, run_cli

from grokbench import StepContext, registry
from grokbench.seedbatch import index_state
from grokbench.spec import parse_overrides, resolve_method, resolve_task

torch.set_num_threads(1)

TRANSFORMS = ["egd", "sketched_egd", "grokfast", "grokfast_ma", "neuralgrok", "perpgrad"]


def method(name: str, **params):
    return registry.get_method(name)(**params)


def mlp_params(S: int = 3, n: int = 6, h: int = 10, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "W1": torch.randn(S, h, n, generator=g),
        "b1": torch.randn(S, h, generator=g),
        "W2": torch.randn(S, 1, h, generator=g),
        "b2": torch.randn(S, generator=g),
    }


def hinge_loss(p, x, y):
    hidden = torch.relu(x @ p["W1"].transpose(1, 2) + p["b1"].unsqueeze(1))
    out = (hidden @ p["W2"].transpose(1, 2)).squeeze(-1) + p["b2"].unsqueeze(1)
    return torch.relu(1 - y * out).mean(dim=1)


def make_ctx(S: int, n: int = 6, seed: int = 0, gens=None, holdout=True) -> StepContext:
    g = torch.Generator().manual_seed(100 + seed)
    x = torch.randn(S, 16, n, generator=g).sign()
    y = x[..., :2].prod(dim=-1)
    xo = torch.randn(S, 8, n, generator=g).sign()
    hold = (xo, xo[..., :2].prod(dim=-1)) if holdout else None
    if gens is None:
        gens = [torch.Generator().manual_seed(7 + s) for s in range(S)]
    return StepContext(0, hinge_loss, (x, y), hold, gens, torch.device("cpu"), lr=0.1)


def singular_values(t: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svdvals(t)


def with_spectrum(S: int, m: int, n: int, s: list[float], seed: int = 0) -> torch.Tensor:
    """Random (S, m, n) matrices with singular values s."""
    g = torch.Generator().manual_seed(seed)
    k = min(m, n)
    U = torch.linalg.qr(torch.randn(S, m, k, generator=g)).Q
    V = torch.linalg.qr(torch.randn(S, n, k, generator=g)).Q
    return (U * torch.tensor(s, dtype=torch.float32)) @ V.mT


# -- EGD ------------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["svd", "gram", "auto"])
@pytest.mark.parametrize("shape", [(3, 12, 4), (3, 4, 12), (2, 7, 6)])
def test_egd_matrix_update_has_unit_singular_values(solver, shape):
    grads = {"W": torch.randn(*shape)}
    out = method("egd", solver=solver).update(grads, grads, {"names": ["W"]}, make_ctx(shape[0]))
    torch.testing.assert_close(singular_values(out["W"]), torch.ones(shape[0], min(shape[1:])), atol=1e-4, rtol=0)
    U, _, Vh = torch.linalg.svd(grads["W"], full_matrices=False)
    torch.testing.assert_close(out["W"], U @ Vh, atol=1e-4, rtol=0)


def test_egd_scope_all_vectors_and_scalars():
    p = mlp_params()
    grads = {k: v.clone() for k, v in p.items()}
    grads["b1"][1] = 1e-10  # below 1e-8: left as is
    egd = method("egd")
    state = egd.init(p, make_ctx(3))
    assert state["names"] == ["W1", "b1", "W2", "b2"]
    out = egd.update(grads, p, state, make_ctx(3))
    norms = out["b1"].norm(dim=1)
    torch.testing.assert_close(norms[[0, 2]], torch.ones(2))
    torch.testing.assert_close(out["b1"][1], grads["b1"][1])
    assert torch.equal(out["b2"], grads["b2"].sign())
    # W2 is a single row: its U V^T is the row normalized
    torch.testing.assert_close(out["W2"], grads["W2"] / grads["W2"].norm(dim=(1, 2), keepdim=True))


def orth_tolerance(shape: tuple[int, ...], spectrum: list[float], dtype=torch.float32) -> float:
    """A bound on |computed - exact| for U V^T of a matrix with these singular values.

    A backward-stable factorization in precision u computes the polar factor of G + dG with
    ||dG||_F <= sqrt(max(m, n)) u ||G||_2 (a dimension factor that holds in practice); the
    polar factor of a full-rank matrix moves by at most about 2 ||dG||_F / s_min (its
    perturbation theory, Higham, Functions of Matrices, ch. 8), s_min the smallest singular
    value the spectral rule keeps. So the bound is 2 sqrt(max(m, n)) u kappa, with
    kappa = s_max / s_min over kept directions: it follows the conditioning, not the CPU
    (seen: at most 0.23 u kappa on AMD EPYC; the Gram route's 1.29e-4 on an Intel Xeon is
    0.11 u kappa)."""
    u = torch.finfo(dtype).eps
    top = max(spectrum)
    if top == 0:
        return u
    kept = [s for s in spectrum if s > numerical_zero_rtol(shape, dtype) * top]
    return 2 * math.sqrt(max(shape[-2:])) * u * top / min(kept)


def test_gram_route_matches_svd_also_when_ill_conditioned_or_rank_deficient():
    spectra = {
        "good": [5, 4, 3, 2.5, 2, 1.5, 1.2, 1.0],
        "ill": [1, 1, 1, 1, 1, 1, 1, 1e-4],  # cond 1e4
        "deficient": [1, 0.5, 0.1, 1e-3, 0, 0, 0, 0],  # rank 4
    }
    cases = {name: (with_spectrum(3, 40, 8, s, seed=i), s) for i, (name, s) in enumerate(spectra.items())}
    cases["zero"] = (torch.zeros(2, 40, 8), [0.0] * 8)
    for name, (G, spectrum) in cases.items():
        tol = orth_tolerance(G.shape, spectrum)
        # the reference: float64 SVD of the same float32 matrix, cut at the float32 level
        exact = orth_svd(G.double(), rank_rtol=numerical_zero_rtol(G.shape, torch.float32)).float()
        for solver in ("gram", "svd"):
            torch.testing.assert_close(orthogonalize(G, solver), exact, atol=tol, rtol=0, msg=f"{name} {solver}")
    # the pseudo-inverse reading: rank-4 input -> a partial isometry of rank 4
    G, spectrum = cases["deficient"]
    tol = orth_tolerance(G.shape, spectrum)
    sv = torch.linalg.svdvals(orthogonalize(G, "gram").double())
    torch.testing.assert_close(sv[:, :4], torch.ones(3, 4, dtype=torch.float64), atol=tol, rtol=0)
    assert sv[:, 4:].abs().max() < tol
    assert orthogonalize(cases["zero"][0], "gram").abs().max() == 0


def test_bmm64_equals_torch_float64_product_in_every_layout():
    from grokbench.methods._linalg import bmm64

    g = torch.Generator().manual_seed(0)
    base = torch.randn(3, 200, 21, generator=g)
    layouts = {"contiguous": base[..., :20].contiguous(), "column view": base[..., :-1],
               "transposed": base[..., :-1].mT.contiguous().mT}
    for name, X in layouts.items():
        X64 = X.double()
        other = torch.randn(3, 20, 20, generator=g, dtype=torch.float64)
        pairs = {"gram": (X64.mT, X64), "product": (X64, other)}
        for kind, (a, b) in pairs.items():
            # two float64 dot products of length k each within k eps64 sum|a_i b_i| of exact
            bound = 2 * a.shape[-1] * torch.finfo(torch.float64).eps * (a.abs() @ b.abs())
            diff = (bmm64(a, b) - a @ b).abs()
            assert (diff <= bound).all(), (name, kind, float((diff / bound).max()))


@pytest.mark.parametrize("spectrum,eps", [
    ([3, 2, 1, 0.5, 0.3, 0.2], 0.25),  # well conditioned: the Gram route is taken
    ([3, 2, 1, 0.5, 2e-3, 1e-3], 1e-2),  # ill conditioned; two floored values
])
def test_egd_first_is_uut_whitening_of_the_first_layer_only(spectrum, eps):
    p = mlp_params()
    grads = mlp_params(seed=1)
    grads["W1"] = with_spectrum(3, 10, 6, spectrum, seed=2)
    for solver in ("svd", "gram", "auto"):
        egd = method("egd", scope="first", eps=eps, solver=solver)
        state = egd.init(p, make_ctx(3))
        assert state["names"] == ["W1"]
        out = egd.update(grads, p, state, make_ctx(3))
        G = grads["W1"].double()
        U, s, _ = torch.linalg.svd(G, full_matrices=False)
        expected = (U * (1 / s.clamp_min(eps)).unsqueeze(-2)) @ U.mT @ G
        torch.testing.assert_close(out["W1"].double(), expected, atol=1e-4, rtol=0)
        for k in ("b1", "W2", "b2"):
            assert torch.equal(out[k], grads[k])


def test_egd_selection_on_transformer_names_and_explicit_patterns():
    S = 2
    p = {
        "embed.W_E": torch.randn(S, 11, 8),
        "blocks.0.attn.W_Q": torch.randn(S, 8, 8),
        "blocks.0.mlp.W_in": torch.randn(S, 32, 8),
        "blocks.0.mlp.b_in": torch.randn(S, 32),
        "blocks.0.mlp.W_out": torch.randn(S, 8, 32),
        "unembed.W_U": torch.randn(S, 8, 11),
    }
    ctx = make_ctx(S)
    assert method("egd", scope="first").init(p, ctx)["names"] == ["blocks.0.mlp.W_in", "blocks.0.mlp.W_out"]
    assert method("egd").init(p, ctx)["names"] == ["blocks.0.mlp.W_in", "blocks.0.mlp.b_in", "blocks.0.mlp.W_out"]
    assert method("egd", include="*W_U,embed.*").init(p, ctx)["names"] == ["embed.W_E", "unembed.W_U"]
    with pytest.raises(ValueError, match="matches no parameter"):
        method("egd", include="nothing*").init(p, ctx)


def _tiny_transformer(S: int = 2):
    tr = pytest.importorskip("grokbench.tasks.transformer")
    try:
        cfg = tr.TransformerConfig(vocab=7, n_ctx=3, n_out=7, d_model=8, n_heads=2, d_mlp=16, n_layers=2, norm="layernorm")
        inits = [tr.init_params(cfg, torch.Generator().manual_seed(s)) for s in range(S)]
    except (AttributeError, TypeError) as exc:  # the task is being written; its API may move
        pytest.skip(f"tasks/transformer.py API changed: {exc}")
    params = {k: torch.stack([p[k] for p in inits]).requires_grad_() for k in inits[0]}

    def loss_fn(p, x, y):
        logits = tr.forward(p, x, cfg)
        return torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(dim=1)

    g = torch.Generator().manual_seed(5)
    x, xo = torch.randint(0, 7, (S, 12, 3), generator=g), torch.randint(0, 7, (S, 6, 3), generator=g)
    ctx = StepContext(0, loss_fn, (x, x.sum(-1) % 7), (xo, xo.sum(-1) % 7),
                      [torch.Generator().manual_seed(s) for s in range(S)], torch.device("cpu"), lr=1e-3)
    return params, ctx


def test_egd_default_selection_on_the_transformer_task_model():
    params, ctx = _tiny_transformer()
    first = method("egd", scope="first").init(params, ctx)["names"]
    assert first == ["h0.w_in", "h0.w_out", "h1.w_in", "h1.w_out"]
    assert set(method("egd").init(params, ctx)["names"]) == set(first) | {"h0.b_in", "h0.b_out", "h1.b_in", "h1.b_out"}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_every_transform_steps_the_transformer_model(name):
    params, ctx = _tiny_transformer()
    tr = method(name, **({"T": 1} if name == "neuralgrok" else {}))
    state = tr.init(params, ctx)
    for step in range(2):
        ctx.step = step
        loss = ctx.loss_fn(params, *ctx.batch)
        grads = dict(zip(params, torch.autograd.grad(loss.sum(), list(params.values()))))
        out = tr.update(grads, params, state, ctx)
        assert out.keys() == grads.keys()
        for k in grads:
            assert out[k].shape == grads[k].shape and torch.isfinite(out[k]).all(), k
        with torch.no_grad():
            for k in params:
                params[k] -= 1e-3 * out[k]
        tr.after_step(params, state, ctx)


# -- sketched EGD -------------------------------------------------------------------------


def sketch_state(sk, G: torch.Tensor):
    return sk.init({"W": G}, make_ctx(G.shape[0]))


def test_rsvd_full_rank_matches_exact_egd():
    G = torch.randn(3, 15, 6)
    sk = method("sketched_egd", rank=6, oversample=4, power_iters=0)
    out = sk.update({"W": G}, {"W": G}, sketch_state(sk, G), make_ctx(3))
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    torch.testing.assert_close(out["W"], U @ Vh, atol=1e-4, rtol=0)


def test_rsvd_low_rank_matches_the_top_r_part():
    G = with_spectrum(3, 30, 12, [100, 80, 60, 50, 40, 2, 1.5, 1.2, 1, 0.8, 0.5, 0.1])
    r = 5
    sk = method("sketched_egd", rank=r, oversample=3, power_iters=2)
    out = sk.update({"W": G}, {"W": G}, sketch_state(sk, G), make_ctx(3))
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    torch.testing.assert_close(out["W"], U[..., :r] @ Vh[..., :r, :], atol=1e-3, rtol=0)
    sv = singular_values(out["W"])
    torch.testing.assert_close(sv[:, :r], torch.ones(3, r), atol=1e-4, rtol=0)
    assert sv[:, r:].max() < 1e-4


def test_rsvd_randomness_is_the_method_stream():
    G = torch.randn(2, 30, 12)
    sk = method("sketched_egd", rank=3, oversample=1, power_iters=0)
    state = sketch_state(sk, G)
    a = sk.update({"W": G}, {}, state, make_ctx(2))["W"]
    b = sk.update({"W": G}, {}, state, make_ctx(2))["W"]  # same generators: same draw
    c = sk.update({"W": G}, {}, state, make_ctx(2, gens=[torch.Generator().manual_seed(99 + s) for s in range(2)]))["W"]
    assert torch.equal(a, b) and not torch.allclose(a, c)


@pytest.mark.parametrize("shape", [(3, 200, 20), (3, 20, 200), (3, 40, 12)])
@pytest.mark.parametrize("spectrum", ["gaussian", "ill", "rank3"])
def test_rsvd_small_side_equals_the_long_side_algorithm(shape, spectrum):
    from grokbench.methods._linalg import _randomized_orth, numerical_zero_rtol, rsvd_small_side

    S, m, n = shape
    k = min(m, n)
    if spectrum == "gaussian":
        G = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    elif spectrum == "ill":
        G = with_spectrum(S, m, n, torch.logspace(0, -4, k).tolist(), seed=2)
    else:
        G = with_spectrum(S, m, n, [1.0, 0.5, 0.1] + [0.0] * (k - 3), seed=3)
    rtol = numerical_zero_rtol(G.shape, torch.float32)
    for rank, width, power_iters in ((10, 12, 2), (3, 3, 0), (k, k, 1)):
        omega = torch.randn(S, n, width, generator=torch.Generator().manual_seed(rank))
        fast = rsvd_small_side(G, omega, rank, power_iters, rtol)
        exact = _randomized_orth(G.double(), omega.double(), rank, power_iters, rtol)  # long side, float64
        # the last product is in float32: error ~eps32 x the kept condition number, as for
        # the Gram route (1e-4 at cond 1e4 there; 3e-5 measured here), ~1e-6 otherwise
        atol = 1e-4 if spectrum == "ill" else 1e-5
        torch.testing.assert_close(fast.double(), exact, atol=atol, rtol=0)


@pytest.mark.parametrize("shape", [(3, 200, 20), (3, 20, 200), (3, 40, 20)])
def test_newton_schulz_on_the_small_side_equals_the_long_side_iteration(shape):
    from grokbench.methods._linalg import CUBIC, QUINTIC, newton_schulz

    G = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    for steps, (a, b, c) in ((5, QUINTIC), (12, CUBIC)):
        X = G.mT if shape[1] > shape[2] else G
        X = X / X.norm(dim=(1, 2), keepdim=True)
        for _ in range(steps):
            A = X @ X.mT
            X = torch.baddbmm(X, torch.baddbmm(A, A, A, beta=b, alpha=c), X, beta=a)
        expected = X.mT if shape[1] > shape[2] else X
        # float32 rounding over the iterations: ~1e-6 apart (measured)
        torch.testing.assert_close(newton_schulz(G, steps, (a, b, c)), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("shape", [(3, 20, 8), (3, 8, 20), (2, 16, 16)])
def test_newton_schulz_lands_in_its_band(shape):
    # A spectrum spanning 20x (a Gaussian matrix can have a near-zero singular value, which
    # 5 steps cannot lift into the band; the band is stated for a conditioned spectrum).
    k = min(shape[1:])
    G = with_spectrum(shape[0], shape[1], shape[2], torch.logspace(0, -1.3, k).tolist(), seed=k)
    sk = method("sketched_egd", sketch="newton_schulz")
    out = sk.update({"W": G}, {}, sketch_state(sk, G), make_ctx(shape[0]))["W"]
    sv = singular_values(out)
    assert sv.min() > 0.5 and sv.max() < 1.5, sv
    # same singular vectors as U V^T: the product with (U V^T)^T is symmetric positive
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    assert (out * (U @ Vh)).sum() > 0.6 * (U @ Vh).square().sum()


def test_cubic_newton_schulz_converges_to_uvt():
    G = with_spectrum(2, 12, 6, [1, 0.9, 0.8, 0.6, 0.5, 0.4])
    sk = method("sketched_egd", sketch="newton_schulz", iteration="cubic", steps=40)
    out = sk.update({"W": G}, {}, sketch_state(sk, G), make_ctx(2))["W"]
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    torch.testing.assert_close(out, U @ Vh, atol=1e-4, rtol=0)


# -- Grokfast -------------------------------------------------------------------------------


def test_grokfast_ema_hand_sequence():
    gf = method("grokfast", alpha=0.5, lamb=2.0)
    state = gf.init({}, make_ctx(1))
    # mu: 1 -> 0.5*1 + 0.5*2 = 1.5 -> 0.5*1.5 + 0.5*3 = 2.25 ; out = g + 2 mu
    expected = [3.0, 5.0, 7.5]
    for g, e in zip([1.0, 2.0, 3.0], expected):
        out = gf.update({"b": torch.tensor([g, -g])}, {}, state, make_ctx(2))
        torch.testing.assert_close(out["b"], torch.tensor([e, -e]))


def test_grokfast_ma_hand_sequence_with_warmup():
    gf = method("grokfast_ma", window=3, lamb=2.0)
    state = gf.init({}, make_ctx(1))
    # unchanged until 3 gradients are held; then g + 2 * mean(last 3)
    seq = [1.0, 2.0, 3.0, 4.0, 8.0]
    expected = [1.0, 2.0, 3.0 + 2 * 2.0, 4.0 + 2 * 3.0, 8.0 + 2 * 5.0]
    for g, e in zip(seq, expected):
        grads = {"W": torch.full((2, 2, 2), g)}
        out = gf.update(grads, {}, state, make_ctx(2))
        torch.testing.assert_close(out["W"], torch.full((2, 2, 2), e))


# -- perpgrad -------------------------------------------------------------------------------


def test_perpgrad_orthogonal_to_weights_with_the_same_norm():
    p, grads = mlp_params(), mlp_params(seed=1)
    p["b2"][1] = 0.0
    out = method("perpgrad").update(grads, p, None, make_ctx(3))
    for k in ("W1", "b1", "W2"):
        S = p[k].shape[0]
        w, g, o = (t.reshape(S, -1).double() for t in (p[k], grads[k], out[k]))
        torch.testing.assert_close((w * o).sum(1), torch.zeros(S, dtype=torch.double), atol=1e-5, rtol=0)
        torch.testing.assert_close(o.norm(dim=1), g.norm(dim=1), rtol=1e-5, atol=0)
    assert out["b2"][0] == 0 and out["b2"][1] == grads["b2"][1]  # scalars: no orthogonal part unless w = 0


# -- NeuralGrok -----------------------------------------------------------------------------


def test_neuralgrok_amplified_gradient_has_norm_c_before_clipping():
    from grokbench.methods.neuralgrok import amplify, clip_per_seed, init_amplifier

    ctx = make_ctx(3)
    grads = mlp_params(seed=1)
    amp = init_amplifier((8, 8), ctx.generators, ctx.device)
    out = amplify(amp, grads, c=0.3)
    for k, g in out.items():
        torch.testing.assert_close(g.reshape(3, -1).norm(dim=1), torch.full((3,), 0.3))
        assert torch.all(torch.sign(g) * torch.sign(grads[k]) >= 0)  # a positive rescaling
    clipped = clip_per_seed(out, 0.5)
    total = torch.stack([g.reshape(3, -1).square().sum(1) for g in clipped.values()]).sum(0).sqrt()
    torch.testing.assert_close(total, torch.full((3,), 0.5), atol=1e-5, rtol=0)
    ng = method("neuralgrok", c=2.0, clip=0.0)
    state = ng.init(mlp_params(), ctx)
    for g in ng.update(grads, mlp_params(), state, ctx).values():
        torch.testing.assert_close(g.reshape(3, -1).norm(dim=1), torch.full((3,), 2.0))


def test_neuralgrok_meta_step_changes_amplifier_not_model():
    ctx = make_ctx(2)
    p = mlp_params(S=2)
    before = {k: v.clone() for k, v in p.items()}
    ng = method("neuralgrok", T=1)
    state = ng.init(p, ctx)
    amp_before = {k: v.detach().clone() for k, v in state["amp"].items()}
    ng.after_step(p, state, ctx)
    for k in p:
        assert torch.equal(p[k], before[k])
    changed = [k for k in amp_before if not torch.equal(amp_before[k], state["amp"][k])]
    assert changed, "the meta step did not move the amplifier"
    ng_t4 = method("neuralgrok", T=4)
    state4 = ng_t4.init(p, ctx)
    snap = {k: v.detach().clone() for k, v in state4["amp"].items()}
    ng_t4.after_step(p, state4, ctx)  # step 0: (0 + 1) % 4 != 0, no meta step
    assert all(torch.equal(snap[k], state4["amp"][k]) for k in snap)


def test_neuralgrok_outer_split_is_carved_from_train_and_disjoint_from_test(monkeypatch, tiny_parity):
    from grokbench.methods.neuralgrok import NeuralGrok

    from grokbench import seeding

    seen = []
    original = NeuralGrok.meta_step

    def spy(self, params, state, ctx):
        seen.append((ctx.holdout[0].clone(), ctx.holdout[1].clone(), ctx.batch[0].clone()))
        return original(self, params, state, ctx)

    monkeypatch.setattr(NeuralGrok, "meta_step", spy)
    assert method("neuralgrok").holdout_fraction == 0.02
    from grokbench.plan import Cell
    from grokbench.trial import run_cell

    task_spec = resolve_task("sparse_parity", parse_overrides(tiny_parity[1::2] + ["sparse_parity.max_epochs=1"]))
    spec = resolve_method("neuralgrok", task_spec, parse_overrides(["neuralgrok.outer_fraction=0.1"]))
    records = list(run_cell(Cell(task_spec, spec, (0,))))
    assert records[0].status in ("solved", "unsolved") and seen
    task = registry.get_task("sparse_parity")(n_train=200, n_test=100)
    split = task.make_data(seeding.generator("sparse_parity", 0, seeding.DATA))
    xo, yo, xb = seen[0][0][0], seen[0][1][0], seen[0][2][0]
    assert xo.shape[0] == 20  # 0.1 of the 200 training examples

    def index_in(rows, table):
        return [int(torch.nonzero((table == r).all(dim=1))[0]) if (table == r).all(dim=1).any() else -1 for r in rows]

    idx = index_in(xo, split.x_train)
    assert -1 not in idx  # every outer example is a training example ...
    assert torch.equal(yo, split.y_train[idx])
    assert all(i == -1 for i in index_in(xo, split.x_test))  # ... and none is a test example
    # the model's own batches come from the inner split, not the outer one
    assert all(i == -1 for i in index_in(xb, xo))


# -- every transform: stacked seeds == seed by seed ---------------------------------------


STACKING_CASES = [
    ("egd", {}),
    ("egd", {"scope": "first", "solver": "gram"}),
    ("egd", {"solver": "svd"}),
    ("sketched_egd", {"rank": 3}),
    ("sketched_egd", {"sketch": "newton_schulz"}),
    ("grokfast", {}),
    ("grokfast_ma", {"window": 2}),
    ("grokfast_ma", {"window": 3}),  # window == S: the buffer's seed axis must still come first
    ("neuralgrok", {"T": 1}),
    ("perpgrad", {}),
]


def _run_transform(name, params, seeds, n_steps=4, compact_to=None, compact_at=2):
    """Steps of one transform on the seeds ``seeds`` of a fixed problem (S = 3); with
    ``compact_to`` (positions), the batch drops to those seeds after ``compact_at`` steps
    the way the engine does it (seedbatch.index_state on the state)."""
    S = 3
    p = mlp_params(S)
    steps = [mlp_params(S, seed=10 + i) for i in range(n_steps)]
    gens_all = [torch.Generator().manual_seed(7 + s) for s in range(S)]
    ctx = make_ctx(S, gens=[gens_all[s] for s in seeds])
    batch_all, hold_all = ctx.batch, ctx.holdout
    ctx.batch = tuple(t[seeds] for t in batch_all)
    ctx.holdout = tuple(t[seeds] for t in hold_all)
    pp = {k: v[seeds].clone() for k, v in p.items()}
    tr = method(name, **params)
    state = tr.init(pp, ctx)
    outs = []
    for i, g in enumerate(steps):
        if compact_to is not None and i == compact_at:
            keep = torch.tensor(compact_to)
            state = index_state(state, keep)
            seeds = [seeds[j] for j in compact_to]
            pp = {k: v[keep].clone() for k, v in pp.items()}
            ctx.generators = [ctx.generators[j] for j in compact_to]
            ctx.batch = tuple(t[seeds] for t in batch_all)
            ctx.holdout = tuple(t[seeds] for t in hold_all)
        ctx.step = i
        out = tr.update({k: v[seeds] for k, v in g.items()}, pp, state, ctx)
        outs.append(out)
        with torch.no_grad():
            for k in pp:
                pp[k] -= 0.1 * out[k]
        tr.after_step(pp, state, ctx)
    return outs


@pytest.mark.parametrize("name,params", STACKING_CASES)
def test_stacked_seeds_equal_seed_by_seed(name, params):
    stacked = _run_transform(name, params, [0, 1, 2])
    single = [_run_transform(name, params, [s]) for s in range(3)]
    for i in range(len(stacked)):
        for k in stacked[i]:
            joined = torch.cat([single[s][i][k] for s in range(3)])
            torch.testing.assert_close(stacked[i][k], joined, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name,params", STACKING_CASES)
def test_state_follows_the_engine_dropping_finished_seeds(name, params):
    compacted = _run_transform(name, params, [0, 1, 2], compact_to=[0, 2])
    direct = _run_transform(name, params, [0, 2])
    for i in range(2, len(direct)):
        for k in direct[i]:
            torch.testing.assert_close(compacted[i][k], direct[i][k], atol=1e-5, rtol=1e-4)


# -- end to end -------------------------------------------------------------------------------


def test_every_method_runs_and_stacks_on_tiny_parity(tmp_path, tiny_parity):
    methods = "egd,sketched_egd,grokfast,grokfast_ma,neuralgrok,perpgrad,grokfast+egd,egd@adamw,egd+perpgrad@adam,muon"
    rc = run_cli("run", "--tasks", "sparse_parity", "--methods", methods, "--seeds", "2", "--out", str(tmp_path),
                 *tiny_parity, "--set", "sparse_parity.max_epochs=3")
    assert rc == 0
    records = [r for r in read_records(tmp_path) if r["identity"]["method"] in methods.split(",")]
    assert len(records) == 20  # (the run may add the task's baseline, sgd)
    assert {r["identity"]["method"] for r in records} == set(methods.split(","))
    assert all(r["status"] in ("solved", "unsolved") for r in records), [r["error"] for r in records]


def test_egd_solves_sparse_parity_in_fewer_epochs_than_sgd():
    from grokbench.plan import Cell
    from grokbench.trial import run_cell

    task = resolve_task("sparse_parity", {})
    epochs = {}
    for label in ("sgd", "egd"):
        cell = Cell(task, resolve_method(label, task, {}), tuple(range(5)))
        recs = list(run_cell(cell))
        assert all(r.status == "solved" for r in recs), [r.status for r in recs]
        epochs[label] = sorted(r.metrics["solve_epoch"] for r in recs)
    median = {k: v[2] for k, v in epochs.items()}
    assert median["egd"] < median["sgd"], epochs
    assert sum(epochs["egd"]) < sum(epochs["sgd"]), epochs
    print("solve epochs, seeds 0-4:", epochs)  # ~3 s: seeds are batched in one model
