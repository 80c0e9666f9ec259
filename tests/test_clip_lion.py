"""Weight-norm clipping (methods/wnclip.py), Lion (methods/lion.py), StableMax at large
logits, and the weight-decay pairings of perpgrad and wnclip (tuning included)."""

from __future__ import annotations

import pytest
import torch
from helpers import read_records, run_cli, study_request

from grokbench import StepContext, registry
from grokbench.chain import Chain
from grokbench.spec import resolve_method, resolve_task
from grokbench.tuning.proposals import tuned_axes

torch.set_num_threads(1)
EPS32 = torch.finfo(torch.float32).eps


def ctx_for(S: int, **slot_settings) -> StepContext:
    """A step context for S slots; ``slot_settings``: per-slot base settings (lr included)."""
    gens = [torch.Generator().manual_seed(3 + s) for s in range(S)]
    x = torch.zeros(S, 1, 1)
    return StepContext(0, lambda p, x, y: x.sum(), (x, x), None, gens, torch.device("cpu"),
                       slot_settings=slot_settings)


def random_params(S: int, dtype=torch.float32, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = {"W": (5, 7), "b": (5,), "s": ()}
    return {k: torch.randn(S, *shape, generator=g, dtype=dtype) for k, shape in shapes.items()}


# -- Lion ------------------------------------------------------------------------------------


def lion_by_hand(params, grads_per_step, lr, wd, b1, b2, warmup):
    """The paper's update, written out one tensor at a time (float64 in, float64 out)."""
    p = {k: v.clone() for k, v in params.items()}
    m = {k: torch.zeros_like(v) for k, v in params.items()}
    for step, grads in enumerate(grads_per_step):
        lr_t = lr * min(step / warmup, 1.0) if warmup else lr
        for k in p:
            c = b1 * m[k] + (1 - b1) * grads[k]
            p[k] = p[k] - lr_t * (torch.sign(c) + wd * p[k])
            m[k] = b2 * m[k] + (1 - b2) * grads[k]
    return p


def lion_steps(opt, params, grads_per_step, **slot_settings):
    chain = Chain([], opt)
    params = {k: v.clone() for k, v in params.items()}
    ctx = ctx_for(next(iter(params.values())).shape[0], **slot_settings)
    state = chain.init(params, ctx)
    for step, grads in enumerate(grads_per_step):
        ctx.step = step
        chain.update(grads, params, state, ctx)
    return params


def grad_sequence(S: int, steps: int, dtype=torch.float32):
    return [random_params(S, dtype, seed=100 + t) for t in range(steps)]


def test_lion_matches_the_update_written_by_hand():
    params, grads = random_params(1, torch.float64), grad_sequence(1, 6, torch.float64)
    lion = registry.get_method("lion")(lr=0.01, weight_decay=0.3, betas=(0.9, 0.99), warmup_steps=2)
    ours = lion_steps(lion, params, grads)
    expected = lion_by_hand(params, grads, 0.01, 0.3, 0.9, 0.99, warmup=2)
    for k in params:  # float64 throughout: a few roundings of values of order 1
        torch.testing.assert_close(ours[k], expected[k], rtol=0, atol=1e-12)
        assert not torch.equal(ours[k], params[k])


def test_lion_seed_batched_equals_one_at_a_time_and_per_slot_settings():
    S, steps, lr, wd = 3, 5, 0.01, 0.2
    params, grads = random_params(S), grad_sequence(S, steps)
    batched = lion_steps(registry.get_method("lion")(lr=lr, weight_decay=wd), params, grads)
    # per slot: seed 1 gets another lr / decay / beta2 in the same batch
    lrs, wds = torch.tensor([lr, 2 * lr, lr], dtype=torch.float64), torch.tensor([wd, 0.0, wd], dtype=torch.float64)
    betas = torch.tensor([[0.9, 0.99], [0.8, 0.95], [0.9, 0.99]], dtype=torch.float64)
    slots = lion_steps(registry.get_method("lion")(lr=lr, weight_decay=wd), params, grads,
                       lr=lrs, weight_decay=wds, betas=betas)
    scale = max(v.abs().max().item() for v in params.values()) + steps * 2 * lr
    tol = 4 * steps * EPS32 * scale  # a few roundings per step of values at most `scale`
    for s in range(S):
        settings = dict(lr=lrs[s].item(), weight_decay=wds[s].item(), betas=tuple(betas[s].tolist()))
        alone = lion_steps(registry.get_method("lion")(lr=lr, weight_decay=wd),
                           {k: v[s:s + 1] for k, v in params.items()}, [{k: v[s:s + 1] for k, v in g.items()} for g in grads])
        alone_slot = lion_steps(registry.get_method("lion")(**settings),
                                {k: v[s:s + 1] for k, v in params.items()}, [{k: v[s:s + 1] for k, v in g.items()} for g in grads])
        for k in params:
            torch.testing.assert_close(batched[k][s:s + 1], alone[k], rtol=0, atol=tol)
            torch.testing.assert_close(slots[k][s:s + 1], alone_slot[k], rtol=0, atol=tol)


# -- wnclip ------------------------------------------------------------------------------------


def grokfast_task():
    return registry.get_task("modular_addition")(p=7, op_token=True, n_layers=2, d_model=16, n_heads=4, d_mlp=32,
                                                 act="gelu", norm="layernorm_stream", attn_bias=True,
                                                 weight_init="torch", outputs="vocab")


def stacked_init(task, seeds=(0,)):
    inits = [task.init_params(torch.Generator().manual_seed(s)) for s in seeds]
    return {k: torch.stack([p[k] for p in inits]).requires_grad_() for k in inits[0]}


def row_norms(w):
    return w.detach().abs() if w.dim() == 1 else w.detach().norm(dim=-1)


def test_wnclip_projects_at_init_per_pattern():
    task = grokfast_task()
    for pattern, touched in (("all", None), ("edge_ln", {"wte", "w_u", "lnf.g", "lnf.b"})):
        params = stacked_init(task)
        before = {k: v.detach().clone() for k, v in params.items()}
        clip = registry.get_method("wnclip")(init_pattern=pattern)
        clip.init(params, ctx_for(1))
        for name, w in params.items():
            norms = row_norms(w)
            if touched is None or name in touched:  # projected: every nonzero row at exactly 2
                nonzero = row_norms(before[name]) > 0
                torch.testing.assert_close(norms[nonzero], torch.full_like(norms[nonzero], 2.0), rtol=1e-5, atol=0)
            elif name not in ("wte", "w_u"):  # clipped once: no row above 2
                assert (norms <= 2.0 * (1 + 1e-6)).all(), name


def test_wnclip_step_leaves_no_row_above_max_norm_and_skips_embedding_and_head():
    task = grokfast_task()
    split = task.make_data(torch.Generator().manual_seed(0))
    x, y = split.x_train[None], split.y_train[None]
    chain = resolve_method("wnclip@adam", resolve_task("modular_addition", {}), {}).build()
    chain.optimizer.params["lr"] = chain.optimizer.lr = 0.5  # large steps push rows past the ball
    chain.optimizer.params["warmup_steps"] = 0
    params = stacked_init(task)
    ctx = ctx_for(1)
    state = chain.init(params, ctx)
    plain = {k: v.detach().clone().requires_grad_() for k, v in params.items()}
    adam = registry.get_method("adam")(lr=0.5)
    adam_state = adam.init(plain, ctx)
    for step in range(3):
        ctx.step = step
        grads = dict(zip(params, torch.autograd.grad(task.loss(task.forward(params, x), y).sum(), list(params.values()))))
        plain_grads = dict(zip(plain, torch.autograd.grad(task.loss(task.forward(plain, x), y).sum(),
                                                          list(plain.values()))))
        before = {k: v.detach().clone() for k, v in params.items()}
        chain.update(grads, params, state, ctx)
        unclipped = {k: v.detach().clone() for k, v in params.items()}
        chain.after_step(params, state, ctx)
        adam.step(plain_grads, plain, adam_state, ctx)
        for name, w in params.items():
            if name in ("wte", "w_u"):
                assert torch.equal(w, unclipped[name]), name  # never clipped
            else:
                assert (row_norms(w) <= 2.0 * (1 + 4 * EPS32)).all(), name
        assert any((row_norms(unclipped[n]) > 2.0).any() for n in state[0]["names"])  # the clip did something
        assert not torch.equal(params["wte"], before["wte"])
    assert "wpe" in state[0]["names"] and "lnf.g" in state[0]["names"]  # as its code: only wte and head skipped


def test_wnclip_seed_batched_equals_one_at_a_time():
    task = grokfast_task()
    clip = registry.get_method("wnclip")()
    batched = stacked_init(task, seeds=(0, 1, 2))
    with torch.no_grad():
        for v in batched.values():
            v.mul_(3.0)  # rows beyond the ball, to be clipped
    alone = [{k: v[s:s + 1].detach().clone() for k, v in batched.items()} for s in range(3)]
    state = clip.init(batched, ctx_for(3))
    clip.after_step(batched, state, ctx_for(3))
    for s in range(3):
        one_state = clip.init(alone[s], ctx_for(1))
        clip.after_step(alone[s], one_state, ctx_for(1))
        for k in batched:  # row norms over rows of the same length: a few roundings apart at most
            torch.testing.assert_close(batched[k][s:s + 1].detach(), alone[s][k], rtol=8 * EPS32, atol=0)


def test_wnclip_and_perpgrad_run_without_weight_decay_and_tuning_keeps_it_at_zero():
    task = resolve_task("modular_addition", {})
    assert resolve_method("adamw", task, {}).optimizer.params["weight_decay"] == 1.0
    for label in ("perpgrad", "wnclip"):
        assert resolve_method(label, task, {}).optimizer.params["weight_decay"] == 0.0
        axes = {a.name for a in tuned_axes(label, task, {})}
        assert "adamw.lr" in axes and "adamw.weight_decay" not in axes, axes
    assert "adamw.weight_decay" in {a.name for a in tuned_axes("grokfast", task, {})}
    lion = resolve_method("wnclip:lion", resolve_task("modular_addition:grokfast", {}), {})
    assert lion.base == "lion" and lion.optimizer.params["betas"] == (0.9, 0.97)
    assert lion.optimizer.params["lr"] == 1e-3 and lion.optimizer.params["weight_decay"] == 0.0


@pytest.mark.parametrize("method", ["wnclip", "lion", "wnclip:lion"])
def test_new_methods_run_a_tiny_trial(tmp_path, method):
    tiny = ["--set", "modular_addition.p=7", "--set", "modular_addition.d_model=8", "--set", "modular_addition.n_heads=2",
            "--set", "modular_addition.d_mlp=16", "--set", "modular_addition.max_steps=3",
            "--set", "modular_addition.eval_every=1"]
    path = study_request(tmp_path, method, "2", tiny, tasks="modular_addition", baseline=False)
    assert run_cli("run", path, "--quiet", "--no-calibrate") == 0
    records = read_records(tmp_path)
    assert len(records) == 2 and all(r["curve"]["step"][-1] == 3 for r in records)
    assert all(r["status"] in ("solved", "unsolved") for r in records)


# -- StableMax at large logits ---------------------------------------------------------------


def test_stablemax_is_finite_for_large_logits_and_equals_its_formula():
    from grokbench.tasks.losses import stablemax_cross_entropy

    logits = torch.tensor([[[1e4, -1e4, 3.0], [-1e4, -2.0, 1e4]]], requires_grad=True)
    y = torch.tensor([[1, 0]])
    loss = stablemax_cross_entropy(logits, y)
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    assert loss.isfinite().all() and grad.isfinite().all()
    s = [[1e4 + 1, 1 / (1 + 1e4), 4.0], [1 / (1 + 1e4), 1 / 3, 1e4 + 1]]  # s(x) = x+1 or 1/(1-x)
    expected = -(torch.log(torch.tensor(s[0][1] / sum(s[0]), dtype=torch.float64))
                 + torch.log(torch.tensor(s[1][0] / sum(s[1]), dtype=torch.float64))) / 2
    assert abs(loss.item() - expected.item()) <= 1e-6 * abs(expected.item())


def test_neuralgrok_defaults_are_its_code_runs():
    ng = registry.get_method("neuralgrok")
    code = ng.presets["code"].params
    assert {k: ng.defaults[k] for k in code} == code == {"c": 0.2, "hidden": (128, 128), "T": 4}
    assert ng.presets["paper_text"].params["hidden"] == (32,)


def test_page_names_each_accelerator_variant():
    import pandas as pd

    from grokbench.leaderboard.settings import accelerator_settings_rows

    task = resolve_task("sparse_parity", {})
    rows = []
    for label in ("egd", "egd:first", "sgd"):
        spec = resolve_method(label, task, {})
        rows.append({"method": spec.label, "task_label": "sparse_parity", "seed": 0,
                     "transforms": [t.identity() for t in spec.transforms]})
    table = accelerator_settings_rows(pd.DataFrame(rows))
    assert [r["method"] for r in table] == ["`egd`", "`egd:first`"]  # a base alone has no row
    assert "scope=all" in table[0]["accelerators as run"] and "egd:first (scope=first" in table[1]["accelerators as run"]


def test_page_says_what_each_preset_that_ran_stands_for():
    import pandas as pd

    from grokbench.leaderboard.settings import preset_lines

    task = resolve_task("sparse_parity", {})
    rows = []
    for label in ("neuralgrok:paper_text", "egd:first", "egd", "sgd"):
        spec = resolve_method(label, task, {})
        rows.append({"method": spec.label, "transforms": [t.identity() for t in spec.transforms]})
    rows.append({"method": "gone", "transforms": [{"name": "gone", "preset": "p"}]})
    lines = preset_lines(pd.DataFrame(rows))
    assert lines[0].startswith("- `egd:first`: ") and len(lines) == 3  # bare egd and sgd: no preset
    assert lines[1] == "- `gone:p`: (not registered in this installation)"
    assert "one hidden layer of 32" in lines[2]
