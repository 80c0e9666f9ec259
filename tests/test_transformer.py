"""The modular-arithmetic transformer: efficient path == reference path, seeds independent,
same seed -> same curve with the thread count in use (CI: 2), and a slow grokking check."""

from __future__ import annotations

import pytest
import torch
from grokbench.tasks import transformer as T

from grokbench import registry, spec
from grokbench.plan import Cell
from grokbench.trial import autograd_step, run_cell

CONFIGS = [
    T.TransformerConfig(vocab=12, n_ctx=3, n_out=11, d_model=16, n_heads=2, d_mlp=32),
    T.TransformerConfig(vocab=13, n_ctx=4, n_out=11, d_model=16, n_heads=4, d_mlp=64, n_layers=2, act="gelu", norm="layernorm"),
    T.TransformerConfig(vocab=12, n_ctx=3, n_out=11, d_model=16, n_heads=2, d_mlp=32, n_layers=3, causal=False),
    T.TransformerConfig(vocab=13, n_ctx=4, n_out=13, d_model=16, n_heads=4, d_mlp=64, n_layers=2, act="gelu",
                        norm="layernorm_stream", attn_bias=True, init="torch"),
    # longer than SHORT_SEQUENCE: the fused kernel's path (causal blocks, then the single query)
    T.TransformerConfig(vocab=12, n_ctx=T.SHORT_SEQUENCE + 2, n_out=11, d_model=16, n_heads=2, d_mlp=32, n_layers=2),
]


@pytest.fixture
def threads():
    """At least 2 torch threads for the test (another test module may have set 1), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(2, before))
    yield torch.get_num_threads()
    torch.set_num_threads(before)


def stacked_params(cfg, n_seeds: int) -> dict[str, torch.Tensor]:
    per_seed = [T.init_params(cfg, torch.Generator().manual_seed(s)) for s in range(n_seeds)]
    return {k: torch.stack([p[k] for p in per_seed]).requires_grad_() for k in per_seed[0]}


@pytest.mark.parametrize("cfg", CONFIGS)
def test_efficient_path_equals_reference(cfg):
    params = stacked_params(cfg, 3)
    tokens = torch.randint(0, cfg.vocab, (3, 50, cfg.n_ctx), generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, cfg.n_out, (3, 50), generator=torch.Generator().manual_seed(1))
    outs, grads = [], []
    for fn in (T.forward, T.forward_reference):
        out = fn(params, tokens, cfg)
        loss = torch.nn.functional.cross_entropy(out.reshape(-1, cfg.n_out), y.reshape(-1))
        outs.append((out, loss))
        grads.append(torch.autograd.grad(loss, list(params.values())))
    (fast, fast_loss), (ref, ref_loss) = outs
    assert fast.shape == (3, 50, cfg.n_out)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast_loss, ref_loss, rtol=1e-6, atol=1e-6)
    for g_fast, g_ref in zip(*grads):
        torch.testing.assert_close(g_fast, g_ref, rtol=1e-4, atol=1e-6)


def test_task_impls_give_the_same_loss():
    for preset in (None, "nanda"):
        cls = registry.get_task("modular_addition")
        base = dict(cls.presets[preset].params) if preset else {}
        fast, ref = cls(**base), cls(**base, impl="reference")
        split = fast.make_data(torch.Generator().manual_seed(0))
        params = {k: v.unsqueeze(0) for k, v in fast.init_params(torch.Generator().manual_seed(0)).items()}
        x, y = split.x_train[None, :512], split.y_train[None, :512]
        torch.testing.assert_close(fast.loss(fast.forward(params, x), y), ref.loss(ref.forward(params, x), y), rtol=1e-6, atol=1e-6)


def test_seeds_do_not_interact():
    cfg = CONFIGS[1]
    params = stacked_params(cfg, 2)
    tokens = torch.randint(0, cfg.vocab, (2, 10, cfg.n_ctx))
    before = T.forward(params, tokens, cfg)[0]
    with torch.no_grad():
        for v in params.values():
            v[1].mul_(3.0).add_(1.0)
    torch.testing.assert_close(T.forward(params, tokens, cfg)[0], before, rtol=0, atol=0)
    solo = {k: v[:1] for k, v in params.items()}
    torch.testing.assert_close(T.forward(solo, tokens[:1], cfg)[0], before, rtol=1e-6, atol=1e-6)


def test_embedding_backward_is_deterministic_with_threads(threads):
    """The op that broke determinism was an indexed lookup's scatter-add backward."""
    wte = torch.randn(3, 40, 32, requires_grad=True)
    tokens = torch.randint(0, 40, (3, 2000, 3))
    grad_out = torch.randn(3, 2000, 3, 32)
    first = torch.autograd.grad(T.embed(wte, tokens), wte, grad_out)[0]
    for _ in range(10):
        assert torch.equal(torch.autograd.grad(T.embed(wte, tokens), wte, grad_out)[0], first)
    rows = wte[torch.arange(3).reshape(3, 1, 1), tokens]
    assert torch.equal(T.embed(wte, tokens), rows)


CHUNKED_TASKS = [  # the engine's training step in seed chunks (cpu_gradient_seeds = 1) on small models
    ("modular_addition", dict(p=11, d_model=16, n_heads=2, d_mlp=32)),
    ("power_ops", dict(p=7, d_model=16, n_heads=4, d_mlp=32, n_layers=2, act="gelu", norm="post_layernorm",
                       attn_bias=True, head_bias=True)),
]


@pytest.mark.parametrize("name, overrides", CHUNKED_TASKS)
def test_gradient_in_seed_chunks_equals_every_seed_at_once(name, overrides):
    """On a CPU the transformer's step runs one seed at a time (each seed's loss depends on
    its own parameters only): the same losses and gradients as all seeds in one batch, up to
    float32 rounding (bit for bit on the CPUs measured: benchmarks/README.md)."""
    task = registry.get_task(name)(**overrides)
    assert task.cpu_gradient_seeds == 1
    splits = [task.make_data(torch.Generator().manual_seed(s)) for s in range(3)]
    x, y = torch.stack([s.x_train for s in splits]), torch.stack([s.y_train for s in splits])
    per_seed = [task.init_params(torch.Generator().manual_seed(s)) for s in range(3)]
    params = {k: torch.stack([p[k] for p in per_seed]).requires_grad_() for k in per_seed[0]}
    seen, forward = [], task.forward
    task.forward = lambda p, xs: seen.append(xs.shape[0]) or forward(p, xs)
    chunked = autograd_step(task, params, x, y)
    task.cpu_gradient_seeds = 0  # this instance: every seed at once
    whole = autograd_step(task, params, x, y)
    assert seen == [1, 1, 1, 3]
    torch.testing.assert_close(chunked[0], whole[0].detach(), rtol=1e-6, atol=1e-7)
    assert list(chunked[1]) == list(whole[1])
    for name in whole[1]:
        torch.testing.assert_close(chunked[1][name], whole[1][name], rtol=1e-5, atol=1e-7)


def _curve_without_clock(record):
    return {k: v for k, v in record.curve.items() if k != "train_time_s"}


def test_same_seed_same_curve_with_threads(threads):
    """Two runs of the same seeds give identical curves with several threads (CI: 2)."""
    assert torch.get_num_threads() >= 2
    task = spec.resolve_task("modular_addition", {"modular_addition": {"max_epochs": 40, "eval_every": 20.0}})
    method = spec.resolve_method("adamw", task, {})
    first, second = (list(run_cell(Cell(task, method, (0, 1)))) for _ in range(2))
    for a, b in zip(first, second):
        assert a.status != "error", a.error
        assert _curve_without_clock(a) == _curve_without_clock(b)
    assert first[0].curve["train_acc"][-1] > 0.2  # it learned something in 40 steps (chance: 1/31)


SLOW_SEED = 1  # solves at step ~1000, ~10-15 s on 2 cores (measured: benchmarks/README.md, "Tasks")


@pytest.mark.slow
def test_cpu_profile_groks_under_adamw():
    """The default (CPU profile) under its base optimizer, one seed: fits first, then groks."""
    task = spec.resolve_task("modular_addition", {})
    (record,) = run_cell(Cell(task, spec.resolve_method("adamw", task, {}), (SLOW_SEED,)))
    m = record.metrics
    assert record.status == "solved", record.status
    assert m["plateau_steps"] >= 2 * m["fit_step"], m

