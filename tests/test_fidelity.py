"""Methods and presets named after a paper follow the paper and its code (small, exact checks)."""

from __future__ import annotations

import math

import pytest
import torch
from grokbench.methods._linalg import numerical_zero_rtol, orthogonalize
from helpers import torch_attention

from grokbench import StepContext, registry
from grokbench.errors import UserError
from grokbench.spec import parse_overrides, resolve_method, resolve_task

torch.set_num_threads(1)


def method(name: str, **params):
    return registry.get_method(name)(**params)


def ctx_for(S: int) -> StepContext:
    gens = [torch.Generator().manual_seed(11 + s) for s in range(S)]
    x = torch.zeros(S, 1, 1)
    return StepContext(0, lambda p, x, y: x.sum(), (x, x), None, gens, torch.device("cpu"), lr=0.1)


def transform_once(name: str, G: torch.Tensor, **params) -> torch.Tensor:
    tr = method(name, **params)
    grads = {"W": G}
    state = tr.init({"W": G.clone()}, ctx_for(G.shape[0]))
    return tr.update(grads, grads, state, ctx_for(G.shape[0]))["W"]


def with_rank(S: int, m: int, n: int, rank: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(S, m, rank, generator=g) @ torch.randn(S, rank, n, generator=g)


EGD_SOLVERS = [
    ("egd", {"solver": "svd"}),
    ("egd", {"solver": "gram"}),
    ("egd", {"solver": "auto"}),
    ("egd", {"scope": "first", "include": "W"}),
    ("egd", {"rank_rtol": 1e-6}),
    ("sketched_egd", {"rank": 10}),
    ("sketched_egd", {"rank": 3, "power_iters": 0}),
    ("sketched_egd", {"sketch": "newton_schulz"}),
    ("sketched_egd", {"sketch": "newton_schulz", "iteration": "cubic", "steps": 30}),
]


# -- EGD: one spectral rule for every solver -------------------------------------------------


@pytest.mark.parametrize("name,params", EGD_SOLVERS)
def test_zero_gradient_gives_zero_step_for_every_solver(name, params):
    for shape in ((2, 200, 20), (2, 20, 200), (2, 12, 12)):
        out = transform_once(name, torch.zeros(shape), **params)
        assert torch.equal(out, torch.zeros(shape)), (name, params, shape, out.norm())


@pytest.mark.parametrize("name,params", EGD_SOLVERS)
def test_a_non_finite_seed_gets_nan_and_leaves_the_other_seeds_alone(name, params):
    for shape in ((3, 200, 20), (3, 12, 12)):
        G = with_rank(3, *shape[1:], 3)
        alone = transform_once(name, G[2:].clone(), **params)
        G[0, 1, 1], G[1, 0, 0] = math.nan, math.inf  # a linalg decomposition raises on either
        out = transform_once(name, G, **params)
        assert out[:2].isnan().all(), (name, params, shape)
        if params.get("sketch") is None and name == "egd":  # randomized sketches draw per batch
            torch.testing.assert_close(out[2:], alone, atol=1e-5, rtol=0)
        assert out[2:].isfinite().all()


@pytest.mark.parametrize("name,params", [c for c in EGD_SOLVERS if c[1].get("sketch") != "newton_schulz"])
def test_rank3_gradient_gets_a_rank3_step_for_every_exact_and_rsvd_solver(name, params):
    G = with_rank(2, 200, 20, 3)
    sv = torch.linalg.svdvals(transform_once(name, G, **params).double())
    assert (sv[:, 3:] < 1e-4).all(), sv[:, :5]  # no spurious unit directions
    if params.get("scope") != "first":
        torch.testing.assert_close(sv[:, :3], torch.ones(2, 3, dtype=torch.float64), atol=1e-4, rtol=0)


def test_newton_schulz_keeps_null_directions_small():
    G = with_rank(2, 200, 20, 3)
    sv = torch.linalg.svdvals(transform_once("sketched_egd", G, sketch="newton_schulz").double())
    assert (sv[:, 3:] < 1e-3).all() and (sv[:, :3] > 0.3).all(), sv[:, :5]


def test_default_rank_rule_drops_only_numerical_zeros_and_pinv_cuts_at_1e_6():
    assert numerical_zero_rtol((5, 200, 20), torch.float32) == 200 * torch.finfo(torch.float32).eps
    # float64, so that a direction at 1e-9 s_max is real (far above 12 * eps64 ~ 3e-15)
    g = torch.Generator().manual_seed(0)
    U = torch.linalg.qr(torch.randn(1, 12, 4, generator=g, dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(1, 4, 4, generator=g, dtype=torch.float64)).Q
    G = (U * torch.tensor([1.0, 0.5, 1e-9, 0.0], dtype=torch.float64)) @ V.mT
    paper = torch.linalg.svdvals(transform_once("egd", G, solver="svd"))
    pinv = torch.linalg.svdvals(transform_once("egd", G, solver="svd", rank_rtol=1e-6))
    torch.testing.assert_close(paper[0], torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(pinv[0], torch.tensor([1.0, 1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-9, rtol=0)
    auto = torch.linalg.svdvals(orthogonalize(G, "auto"))  # a float64 G: the SVD, not the Gram route
    torch.testing.assert_close(auto, paper, atol=1e-9, rtol=0)
    assert registry.get_method("egd").presets["pinv"].params == {"rank_rtol": 1e-6}


@pytest.mark.parametrize("value", ["-1", "2", "abc"])
def test_rank_rtol_out_of_range_is_a_user_error(value):
    task = resolve_task("sparse_parity", {})
    with pytest.raises(UserError, match="rank_rtol"):
        resolve_method("egd", task, parse_overrides([f"egd.rank_rtol={value}"]))


def test_sketch_rank_is_36_on_a_transformer_and_10_on_an_mlp():
    sk = method("sketched_egd")
    mlp = {"W1": torch.zeros(1, 8, 4), "b1": torch.zeros(1, 8)}
    transformer = {"wte": torch.zeros(1, 5, 4), "h0.w_in": torch.zeros(1, 16, 4), "h0.w_out": torch.zeros(1, 4, 16)}
    assert sk.init(mlp, ctx_for(1))["rank"] == 10
    assert sk.init(transformer, ctx_for(1))["rank"] == 36
    assert method("sketched_egd", rank=7).init(transformer, ctx_for(1))["rank"] == 7


# -- Grokfast and perpgrad: the papers' pairings --------------------------------------------


@pytest.mark.parametrize("task_label", ["sparse_parity", "modular_addition", "modular_addition:grokfast"])
@pytest.mark.parametrize("name,decay", [("grokfast", 0.005), ("grokfast_ma", 0.01)])
def test_grokfast_paper_preset_is_adam_with_coupled_l2(task_label, name, decay):
    task = resolve_task(task_label, {})
    cls = registry.get_task(task.name)
    paper = resolve_method(f"{name}:paper", task, {})
    assert paper.optimizer.name == "adam"  # coupled L2, whatever the task's base
    assert registry.get_method("adam").coupled_decay
    expected = dict(cls.optimizer_defaults.get("adam", {}))
    if task.preset:
        expected.update(cls.presets[task.preset].optimizer.get("adam", {}))
    expected["weight_decay"] = decay
    for key, value in expected.items():
        assert paper.optimizer.params[key] == (tuple(value) if isinstance(value, list) else value), key
    plain = resolve_method(name, task, {})  # equal-decay comparison: the task's own base and decay
    base = (cls.presets[task.preset].base_optimizer if task.preset else None) or cls.base_optimizer
    assert plain.optimizer.name == base
    assert plain.optimizer.params["weight_decay"] == resolve_method(base, task, {}).optimizer.params["weight_decay"]
    overridden = resolve_method(f"{name}:paper", task, parse_overrides(["adam.weight_decay=0.5"]))
    assert overridden.optimizer.params["weight_decay"] == 0.5  # --set still wins


@pytest.mark.parametrize("label", ["perpgrad:paper", "perpgrad:paper@adam", "perpgrad:paper@adamw",
                                   "perpgrad:paper@sgd", "perpgrad:paper@muon"])
def test_perpgrad_paper_preset_has_no_weight_decay(label):
    for task_label in ("sparse_parity", "modular_addition"):
        spec = resolve_method(label, resolve_task(task_label, {}), {})
        assert spec.optimizer.params["weight_decay"] == 0.0, (task_label, label)
        assert spec.optimizer.params.get("adamw_weight_decay", 0.0) == 0.0


# -- StableMax ----------------------------------------------------------------------------------


def test_stablemax_cross_entropy_by_hand():
    from grokbench.tasks.losses import stablemax, stablemax_cross_entropy

    logits = torch.tensor([[[2.0, -1.0, 0.0], [0.5, -3.0, 1.0]]])  # (S=1, B=2, C=3)
    y = torch.tensor([[0, 1]])
    # s = [3, 1/2, 1] -> p_0 = 3/4.5; s = [1.5, 1/4, 2] -> p_1 = 0.25/3.75
    expected = -(math.log(3 / 4.5) + math.log(0.25 / 3.75)) / 2
    loss = stablemax_cross_entropy(logits, y)
    assert loss.dtype == torch.float32 and loss.shape == (1,)
    assert abs(loss.item() - expected) < 1e-6
    torch.testing.assert_close(stablemax(torch.tensor([-1.0, 0.0, 2.0])), torch.tensor([0.5, 1.0, 3.0]))
    x = torch.tensor([[[1.0, -1.0]]], requires_grad=True)
    assert torch.autograd.grad(stablemax_cross_entropy(x, torch.tensor([[0]])).sum(), x)[0].isfinite().all()


def test_modular_task_trains_with_stablemax():
    cls = registry.get_task("modular_addition")
    task = cls(p=7, d_model=8, n_heads=2, d_mlp=16, loss_type="stablemax")
    split = task.make_data(torch.Generator().manual_seed(0))
    params = {k: v.unsqueeze(0).requires_grad_() for k, v in task.init_params(torch.Generator().manual_seed(0)).items()}
    out = task.forward(params, split.x_train[None])
    loss = task.loss(out, split.y_train[None])
    grads = torch.autograd.grad(loss.sum(), list(params.values()))
    assert loss.shape == (1,) and all(g.isfinite().all() for g in grads)
    assert abs(loss.item() - cls(p=7, d_model=8, n_heads=2, d_mlp=16).loss(out, split.y_train[None]).item()) > 1e-3


# -- NeuralGrok against its code --------------------------------------------------------------


def test_neuralgrok_amplifier_has_pytorch_default_init_per_seed():
    from grokbench.methods.neuralgrok import init_amplifier

    hidden = (32, 16)
    amp = init_amplifier(hidden, [torch.Generator().manual_seed(s) for s in (3, 4)], torch.device("cpu"))
    for pos, seed in enumerate((3, 4)):
        torch.manual_seed(seed)
        layers = [torch.nn.Linear(i, o) for i, o in zip((1, *hidden), (*hidden, 1))]
        for i, layer in enumerate(layers):
            torch.testing.assert_close(amp[f"W{i}"][pos], layer.weight.detach().mT, rtol=0, atol=0)
            torch.testing.assert_close(amp[f"b{i}"][pos, 0], layer.bias.detach(), rtol=0, atol=0)


def test_neuralgrok_meta_optimizer_is_adam_098_with_the_run_decay():
    ng = method("neuralgrok")
    state = ng.init({"W": torch.zeros(1, 2, 2)}, ctx_for(1))
    meta = state["meta_opt"]
    assert meta.name == "adam" and meta.coupled_decay
    assert tuple(meta.betas) == (0.9, 0.98) and meta.lr == 1e-4 and meta.weight_decay == 1e-3
    assert meta.weight_decay == registry.get_task("modular_addition").presets["neuralgrok"].optimizer["adam"]["weight_decay"]


def test_neuralgrok_task_preset_follows_its_code():
    task = resolve_task("modular_addition:neuralgrok", {})
    assert task.params["b_min"] == 1
    for op in ("add", "sub", "mul", "sq_sub"):
        t = resolve_task("modular_addition:neuralgrok", {"modular_addition:neuralgrok": {"op": op}}).build()
        x = t.make_data(torch.Generator().manual_seed(0)).x_train
        assert x[:, 1].min() == 1 and (x[:, 2] == 97).all(), op  # [a, b, op, =], b in [1, p)
    opt = resolve_method("neuralgrok", task, {}).optimizer
    assert opt.name == "adam" and opt.params["warmup_steps"] == 10
    assert tuple(opt.params["betas"]) == (0.9, 0.98) and opt.params["weight_decay"] == 1e-3


# -- the transformer presets ------------------------------------------------------------------


def test_nanda_init_scales():
    from grokbench.tasks import transformer as T

    base = dict(vocab=114, n_ctx=3, n_out=113, d_model=128, n_heads=4, d_mlp=512)
    default = T.init_params(T.TransformerConfig(**base), torch.Generator().manual_seed(0))
    nanda = T.init_params(T.TransformerConfig(**base, init="nanda"), torch.Generator().manual_seed(0))
    # same draws, different scales: w_out N(0,1)/sqrt(d_model), w_u N(0,1)/sqrt(d_vocab)
    torch.testing.assert_close(nanda["h0.w_out"], default["h0.w_out"] * math.sqrt(512 / 128))
    torch.testing.assert_close(nanda["w_u"], default["w_u"] * math.sqrt(128 / 114))
    for k in ("wte", "wpe", "h0.wq", "h0.wk", "h0.wv", "h0.wo", "h0.w_in"):
        assert torch.equal(nanda[k], default[k]), k
    big = T.init_params(T.TransformerConfig(**base, init="nanda"), torch.Generator().manual_seed(1))
    for k, std in (("wte", 128), ("h0.wq", 128), ("h0.w_in", 128), ("h0.w_out", 128), ("w_u", 114)):
        assert abs(big[k].std().item() * math.sqrt(std) - 1) < 0.05, k
    assert big["h0.w_in"].shape == (512, 128) and big["w_u"].shape == (113, 128)  # stored (out, in)
    assert resolve_task("modular_addition:nanda", {}).params["weight_init"] == "nanda"


@pytest.mark.parametrize("preset,eval_steps", [("grokfast", 10), ("neuralgrok", 10), ("nanda", 100)])
def test_paper_presets_evaluate_finely(preset, eval_steps):
    """Grokfast's 790 / 910 steps resolved to <= 2% (every epoch of 10 steps, as its code)."""
    task = resolve_task(f"modular_addition:{preset}", {}).build()
    n_train = len(task.make_data(torch.Generator().manual_seed(0)).y_train)
    assert task.schedule(n_train).eval_every == eval_steps
    assert eval_steps <= 0.02 * 790 or preset == "nanda"


def test_grokking_decoder_presets_build_the_papers_code_model():
    for preset in ("grokfast", "neuralgrok"):
        task = resolve_task(f"modular_addition:{preset}", {}).build()
        cfg = task.config
        assert (cfg.norm, cfg.attn_bias, cfg.init, cfg.act, cfg.n_layers) == ("layernorm_stream", True, "torch", "gelu", 2)
        assert cfg.n_out == cfg.vocab == 99  # logits over every token, as its code's head
        params = {k: v[None] for k, v in task.init_params(torch.Generator().manual_seed(0)).items()}
        assert {"h0.bq", "h0.bk", "h0.bv", "h0.bo"} <= set(params)
        x = task.make_data(torch.Generator().manual_seed(0)).x_train[None, :8]
        assert task.forward(params, x).shape == (1, 8, 99)
    nanda = resolve_task("modular_addition:nanda", {}).build()
    assert nanda.config.n_out == 114 and nanda.loss_type == "cross_entropy_float64"
    assert len(nanda.make_data(torch.Generator().manual_seed(0)).y_train) == int(0.3 * 113**2)  # floor, as its code


def test_torch_init_follows_pytorch_module_defaults():
    from grokbench.tasks import transformer as T

    cfg = T.TransformerConfig(vocab=99, n_ctx=4, n_out=99, d_model=128, n_heads=4, d_mlp=512, n_layers=2,
                              act="gelu", norm="layernorm_stream", attn_bias=True, init="torch")
    p = T.init_params(cfg, torch.Generator().manual_seed(0))
    assert abs(p["wte"].std().item() - 1) < 0.02  # nn.Embedding: N(0, 1)
    for name, bound in (("h0.wq", math.sqrt(6 / 512)), ("h0.wo", 1 / math.sqrt(128)), ("h0.w_in", 1 / math.sqrt(128)),
                        ("h0.b_in", 1 / math.sqrt(128)), ("h0.w_out", 1 / math.sqrt(512)), ("w_u", 1 / math.sqrt(128))):
        assert p[name].abs().max() <= bound and p[name].abs().max() > 0.95 * bound, name  # U(-bound, bound)
        assert abs(p[name].std().item() - bound / math.sqrt(3)) < 0.1 * bound, name
    for name in ("h0.bq", "h0.bk", "h0.bv", "h0.bo", "h0.ln1.b"):
        assert not p[name].any(), name
    assert (p["h1.ln2.g"] == 1).all()


def test_float64_cross_entropy_equals_cross_entropy():
    from grokbench.tasks.losses import cross_entropy, cross_entropy_float64

    logits = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(0)) * 5
    y = torch.randint(0, 7, (2, 5), generator=torch.Generator().manual_seed(1))
    high = cross_entropy_float64(logits, y)
    assert high.dtype == torch.float32
    torch.testing.assert_close(high, cross_entropy(logits, y), rtol=1e-5, atol=1e-6)


def test_layernorm_stream_block_is_the_grokfast_code_decoder():
    """Our decoder with the grokfast preset's options == the same weights in an nn.Module
    written as the Grokfast code's Block (x = ln_1(x); x = x + attn(x); x = x + mlp(ln_2(x)))."""
    from grokbench.tasks import transformer as T
    from torch import nn

    d, heads, vocab, t = 16, 4, 11, 4
    cfg = T.TransformerConfig(vocab=vocab, n_ctx=t, n_out=vocab, d_model=d, n_heads=heads, d_mlp=4 * d, n_layers=2,
                              act="gelu", norm="layernorm_stream", attn_bias=True, init="torch")
    p = T.init_params(cfg, torch.Generator().manual_seed(0))
    with torch.no_grad():
        for v in p.values():  # LayerNorm and bias values away from their 1 / 0 init
            v.add_(0.1 * torch.randn(v.shape, generator=torch.Generator().manual_seed(v.numel())))

    def block(i: int, x: torch.Tensor) -> torch.Tensor:  # x: (T, B, d), the code's layout
        attn, mask = torch_attention(p, i, d, heads, t)
        x = nn.functional.layer_norm(x, (d,), p[f"h{i}.ln1.g"], p[f"h{i}.ln1.b"])
        x = x + attn(x, x, x, attn_mask=mask, need_weights=False)[0]
        hidden = nn.functional.gelu(nn.functional.linear(
            nn.functional.layer_norm(x, (d,), p[f"h{i}.ln2.g"], p[f"h{i}.ln2.b"]), p[f"h{i}.w_in"], p[f"h{i}.b_in"]))
        return x + nn.functional.linear(hidden, p[f"h{i}.w_out"], p[f"h{i}.b_out"])

    tokens = torch.randint(0, vocab, (6, t), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        h = (p["wte"][tokens] + p["wpe"]).transpose(0, 1)
        for i in range(2):
            h = block(i, h)
        expected = nn.functional.linear(nn.functional.layer_norm(h[-1], (d,), p["lnf.g"], p["lnf.b"]), p["w_u"])
        stacked = {k: v[None] for k, v in p.items()}
        torch.testing.assert_close(T.forward(stacked, tokens[None], cfg)[0], expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(T.forward_reference(stacked, tokens[None], cfg)[0], expected, atol=1e-5, rtol=1e-5)


def test_warmup_follows_the_papers_lambdalr():
    """Step k trains at lr * min(k / warmup, 1), as torch's LambdaLR(min(update / 10, 1))."""
    from grokbench import registry

    opt = registry.get_method("adam")(lr=1e-3, warmup_steps=10)
    param = torch.nn.Parameter(torch.zeros(1))
    torch_opt = torch.optim.Adam([param], lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(torch_opt, lambda update: min(update / 10, 1))
    for step in range(14):
        assert opt.lr_at(step) == pytest.approx(torch_opt.param_groups[0]["lr"], abs=1e-15)
        torch_opt.step()
        sched.step()
