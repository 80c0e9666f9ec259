"""Power et al.'s operation tables (tasks/power_ops.py) against brute force, and the
AI-Scientist template's post-LN decoder against the template's block written with nn modules."""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import read_records, run_cli, torch_attention

from grokbench import registry
from grokbench.errors import UserError
from grokbench.spec import resolve_method, resolve_task

torch.set_num_threads(1)


def task(**params):
    return registry.get_task("power_ops")(**params)


def brute_force_modular(operation: str, x: int, y: int, p: int) -> int:
    inv = pow(y, p - 2, p) if y % p else None  # Fermat: y^(p-2) = y^-1 mod prime p
    values = {
        "x+y": x + y, "x-y": x - y, "x/y": None if inv is None else x * inv,
        "x/y_if_y_odd_else_x-y": x * inv if y % 2 == 1 else x - y,
        "x^2+y^2": x * x + y * y, "x^2+xy+y^2": x * x + x * y + y * y,
        "x^2+xy+y^2+x": x * x + x * y + y * y + x, "x^3+xy": x**3 + x * y, "x^3+xy^2+y": x**3 + x * y * y + y,
    }
    return values[operation] % p


MODULAR = ["x+y", "x-y", "x/y", "x/y_if_y_odd_else_x-y", "x^2+y^2", "x^2+xy+y^2", "x^2+xy+y^2+x",
           "x^3+xy", "x^3+xy^2+y"]


@pytest.mark.parametrize("operation", MODULAR)
def test_modular_tables_match_brute_force(operation):
    p = 11
    t = task(p=p, operation=operation)
    tokens, answers = t.all_pairs()
    y_min = 1 if operation == "x/y" else 0
    expected = [(x, y, brute_force_modular(operation, x, y, p)) for x in range(p) for y in range(y_min, p)]
    assert tokens.tolist() == [[x, p, y, p + 1] for x, y, _ in expected]
    assert answers.tolist() == [c for _, _, c in expected]
    assert t.config.vocab == p + 2 and t.config.n_out == p and t.config.n_ctx == 4


def compose(a: tuple, b: tuple) -> tuple:
    return tuple(a[b[i]] for i in range(len(b)))


def inverse(a: tuple) -> tuple:
    return tuple(sorted(range(len(a)), key=lambda i: a[i]))


@pytest.mark.parametrize("operation,degree", [("x.y", 5), ("x.y.x^-1", 4), ("x.y.x", 4), ("x.y.x^-1", 3)])
def test_permutation_tables_match_explicit_permutations(operation, degree):
    elements = list(itertools.permutations(range(degree)))
    index = {perm: i for i, perm in enumerate(elements)}
    ops = {"x.y": lambda a, b: compose(a, b), "x.y.x^-1": lambda a, b: compose(compose(a, b), inverse(a)),
           "x.y.x": lambda a, b: compose(compose(a, b), a)}
    t = task(operation=operation, degree=degree)
    tokens, answers = t.all_pairs()
    n = len(elements)
    assert t.n_elements == n and t.config.vocab == n + 2 and len(answers) == n * n
    expected = [index[ops[operation](a, b)] for a in elements for b in elements]
    assert answers.tolist() == expected
    assert tokens[:, 0].tolist() == [i for i in range(n) for _ in range(n)]
    assert set(tokens[:, 1].tolist()) == {n} and set(tokens[:, 3].tolist()) == {n + 1}


def test_s5_is_120_elements_and_its_split_covers_every_pair():
    t = task(operation="x.y")
    split = t.make_data(torch.Generator().manual_seed(0))
    assert t.n_elements == 120 and len(split.y_train) == 7200 and len(split.y_test) == 7200
    pairs = torch.cat([split.x_train, split.x_test])[:, [0, 2]]
    assert len({tuple(r) for r in pairs.tolist()}) == 120 * 120


def test_division_needs_a_prime_modulus():
    with pytest.raises(UserError, match="prime"):
        task(p=12, operation="x/y")
    task(p=12, operation="x+y")  # fine without a division


def test_template_preset_follows_the_ai_scientist_template():
    spec = resolve_task("power_ops:template", {"power_ops:template": {"operation": "x.y"}})
    t = spec.build()
    cfg = t.config
    assert (cfg.norm, cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.d_mlp, cfg.act) == (
        "post_layernorm", 2, 128, 4, 512, "gelu")
    assert cfg.head_bias and cfg.attn_bias and cfg.causal and cfg.n_out == 120 and cfg.vocab == 122
    sched = t.schedule(7200)
    assert (sched.batch_size, sched.eval_every, sched.max_steps) == (512, 10, 7500)
    assert t.target == 0.99 and t.sustain_evals == 0
    opt = resolve_method("adamw", spec, {}).optimizer.params
    assert (opt["lr"], opt["betas"], opt["weight_decay"], opt["warmup_steps"]) == (1e-3, (0.9, 0.98), 0.5, 50)


def test_cpu_presets_resolve_to_the_measured_profiles():
    division = resolve_task("power_ops:cpu_div", {})
    t = division.build()
    split = t.make_data(torch.Generator().manual_seed(0))
    assert t.operation == "x/y" and t.p == 31 and len(split.y_train) == int(0.8 * 31 * 30)
    assert t.schedule(len(split.y_train)).max_steps == 2500
    assert resolve_method("adamw", division, {}).optimizer.params["lr"] == 3e-3  # the task's AdamW default
    s4 = resolve_task("power_ops:cpu_s4", {})
    t = s4.build()
    split = t.make_data(torch.Generator().manual_seed(0))
    assert (t.operation, t.n_elements, len(split.y_test)) == ("x.y", 24, 576 - int(0.9 * 576))
    assert t.schedule(len(split.y_train)).max_steps == 5500
    opt = resolve_method("adamw", s4, {}).optimizer.params
    assert (opt["lr"], opt["weight_decay"]) == (1e-2, 1.0)
    assert resolve_method("adam", s4, {}).optimizer.params["lr"] == 1e-3  # only AdamW's lr is the preset's
    assert resolve_method("adamw", s4, {"adamw": {"lr": 3e-3}}).optimizer.params["lr"] == 3e-3  # --set wins


def test_post_layernorm_decoder_is_the_template_block():
    """Our decoder with the template's options == the same weights in the template's
    DecoderBlock (a1 = LN(x + attn(x)); LN(a1 + ffn(a1))), final LayerNorm and biased head."""
    from grokbench.tasks import transformer as T
    from torch import nn

    d, heads, vocab, t, n_out = 16, 4, 13, 4, 11
    cfg = T.TransformerConfig(vocab=vocab, n_ctx=t, n_out=n_out, d_model=d, n_heads=heads, d_mlp=4 * d,
                              n_layers=2, act="gelu", norm="post_layernorm", attn_bias=True, head_bias=True,
                              init="torch")
    p = T.init_params(cfg, torch.Generator().manual_seed(0))
    assert p["b_u"].shape == (n_out,) and p["b_u"].abs().max() > 0
    with torch.no_grad():
        for v in p.values():  # LayerNorm and bias values away from their 1 / 0 init
            v.add_(0.1 * torch.randn(v.shape, generator=torch.Generator().manual_seed(v.numel())))

    def block(i: int, x: torch.Tensor) -> torch.Tensor:  # x: (T, B, d), the template's layout
        attn, mask = torch_attention(p, i, d, heads, t)
        a1 = attn(x, x, x, attn_mask=mask)[0]
        a1 = nn.functional.layer_norm(x + a1, (d,), p[f"h{i}.ln1.g"], p[f"h{i}.ln1.b"])
        a2 = nn.functional.linear(nn.functional.gelu(nn.functional.linear(a1, p[f"h{i}.w_in"], p[f"h{i}.b_in"])),
                                  p[f"h{i}.w_out"], p[f"h{i}.b_out"])
        return nn.functional.layer_norm(a1 + a2, (d,), p[f"h{i}.ln2.g"], p[f"h{i}.ln2.b"])

    tokens = torch.randint(0, vocab, (6, t), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        h = (p["wte"][tokens] + p["wpe"]).transpose(0, 1)
        for i in range(2):
            h = block(i, h)
        h = nn.functional.layer_norm(h, (d,), p["lnf.g"], p["lnf.b"])
        expected = nn.functional.linear(h[-1], p["w_u"], p["b_u"])
        stacked = {k: v[None] for k, v in p.items()}
        torch.testing.assert_close(T.forward(stacked, tokens[None], cfg)[0], expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(T.forward_reference(stacked, tokens[None], cfg)[0], expected, atol=1e-5, rtol=1e-5)


def test_modular_addition_tables_are_unchanged_by_the_refactor():
    t = registry.get_task("modular_addition")(p=5, op="sq_sub", b_min=1, op_token=True, op_last=True)
    tokens, answers = t.all_pairs()
    expected = [(a, b, (a * a - b) % 5) for a in range(5) for b in range(1, 5)]
    assert tokens.tolist() == [[a, b, 5, 6] for a, b, _ in expected]
    assert answers.tolist() == [c for _, _, c in expected]


TINY = ["--set", "power_ops.d_model=8", "--set", "power_ops.n_heads=2", "--set", "power_ops.d_mlp=16",
        "--set", "power_ops.max_steps=3", "--set", "power_ops.eval_every_steps=1"]


@pytest.mark.parametrize("extra", [
    ["--set", "power_ops.p=7", "--set", "power_ops.operation=x/y_if_y_odd_else_x-y"],
    ["--set", "power_ops.operation=x.y.x", "--set", "power_ops.degree=3", "--set", "power_ops.loss_type=stablemax"],
])
def test_power_ops_runs_a_tiny_trial(tmp_path, extra):
    assert run_cli("run", "--tasks", "power_ops", "--methods", "adamw", "--seeds", "1", "--out", str(tmp_path),
                   "--quiet", "--no-calibrate", *TINY, *extra) == 0
    (record,) = read_records(tmp_path)
    assert record["status"] in ("solved", "unsolved") and record["curve"]["step"] == [0, 1, 2, 3]
