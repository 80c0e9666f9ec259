"""NeuralGrok (arXiv 2504.17243, "NeuralGrok: Accelerate Grokking by Neural Gradient
Transformation"): a learned amplifier rescales every gradient entry; the amplifier is
trained by a bilevel (meta) objective on a held-out slice of the training data.

Amplifier (paper Sec. 3). Per parameter tensor with gradient g (per seed), every entry
g_i is fed, as a (-1, 1)-shaped input, through a small MLP  1 -> hidden... -> 1  (ReLU)
giving a logit a_i; softmax over all entries of that tensor gives weights s; then

    g' = c * (s * g) / ||s * g||                     (the rescaling to norm c)

after which the total gradient norm is clipped to ``clip`` = 1.0 per seed (over all
tensors) and the base optimizer steps (the paper: Adam lr 1e-3, betas (0.9, 0.98)).

Meta step (bilevel training, every T inner steps; runs in ``after_step``, i.e. after the
base optimizer updated the model, inside the timed step): take the updated model w,
compute its gradient g on the same inner batch, form the first-order one-step look-ahead

    w' = w - inner_lr * amp(g)          (g a constant; amp(g) differentiable in the amplifier)

evaluate the loss of w' on the *outer* split and take one step of the amplifier's own Adam
(lr ``meta_lr`` 1e-4) on it. The model itself is not changed by the meta step.

Data: the method asks the engine for a held-out *outer* slice of the training set through
``holdout_fraction`` = ``outer_fraction``; the model trains on the rest (the inner split),
while the baseline and other methods train on the whole training set. The paper splits
all pairs 49% inner / 1% outer out of a 50% training half, i.e. 2% of the training set:
the default 0.02. The outer split is carved from training data only; the test split is
never seen.

Defaults are its code's runs (Blackzxy/NeuralOptGrok, commit a7490be of 2025-04-25, the
same since 26c9a33 of 2025-04-08): script/neuralgrok/task1.sh runs every binary operation
with ``--neural_hidden_dims 128,128 --inner_loop_steps 4`` and src/model.py's amplifier
default c_norm 0.2 ("recommend to use c=0.2"), so c = 0.2, hidden (128, 128), T = 4;
inner_lr 1e-3 (the run's lr), meta_lr 1e-4, outer_fraction 0.02, clip 1.0. Preset ``code``
names that version explicitly (the same values); preset ``paper_text``: the paper's text,
c = 1 and one hidden layer of 32 (REFERENCES.md), T = 4.

From its code: the amplifier keeps PyTorch's default nn.Linear initialization (weights
kaiming_uniform(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)), biases U(+-1/sqrt(fan_in))), drawn
per seed from the trial's method stream (ctx.generators), one amplifier per seed (seed axis
batched), no dropout; the amplifier's optimizer is Adam (lr meta_lr, betas (0.9, 0.98),
eps 1e-8, coupled L2 ``meta_weight_decay``), without warm-up. The run's warm-up (10 steps)
and Adam settings belong to the task preset ``modular_addition:neuralgrok``.

A tensor whose gradient is exactly zero stays zero (no division by ||s*g|| = 0).
Cost: per step one extra amplifier pass over every gradient entry; per meta step one extra
forward/backward of the model on the inner batch, one forward/backward of the look-ahead
on the outer split, and the amplifier's backward.

As in its code, the look-ahead uses amp(g) unclipped, and the outer loss is the mean over
the whole outer split (one batch at the paper's sizes).

Deviation, ours: ``meta_weight_decay`` is a parameter (default 1e-3, the paper's run decay), not read from the base.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import Tensor

from grokbench import Preset, Transform, register
from grokbench.params import at_least, between, each, nonnegative, positive
from grokbench.search import Choice, Log

from .adam import Adam

META_BETAS = (0.9, 0.98)  # its code: the run's Adam betas


def torch_linear_init(fan_in: int, fan_out: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """nn.Linear(fan_in, fan_out)'s default initialization, drawn from ``gen`` in its order:
    weight (fan_out, fan_in) by kaiming_uniform(a=sqrt(5)), then bias U(+-1/sqrt(fan_in))."""
    weight = torch.empty(fan_out, fan_in)
    torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
    bound = 1 / math.sqrt(fan_in)
    bias = torch.empty(fan_out).uniform_(-bound, bound, generator=gen)
    return weight, bias


def init_amplifier(hidden: tuple[int, ...], generators: list[torch.Generator], device) -> dict[str, Tensor]:
    """Per-seed amplifier weights, stacked: {"W0": (S, 1, h1), "b0": (S, 1, h1), ..., "bL": (S, 1, 1)}.

    Each seed's layers are PyTorch's default nn.Linear initialization from that seed's
    generator, layer by layer; W{i} is stored (fan_in, fan_out), the transpose of
    nn.Linear's weight. Plain tensors with the seed axis first (so the engine can drop
    finished seeds from them); the meta step makes differentiable leaves of them.
    """
    widths = (1, *hidden, 1)
    per_seed = [[torch_linear_init(i, o, g) for i, o in zip(widths[:-1], widths[1:])] for g in generators]
    amp = {}
    for i in range(len(widths) - 1):
        amp[f"W{i}"] = torch.stack([layers[i][0].mT for layers in per_seed]).to(device)
        amp[f"b{i}"] = torch.stack([layers[i][1].unsqueeze(0) for layers in per_seed]).to(device)
    return amp


def amplify(amp: dict[str, Tensor], grads: dict[str, Tensor], c: float) -> dict[str, Tensor]:
    """g' = c * (s*g) / ||s*g|| per tensor per seed, s = softmax over the tensor's entries
    of the amplifier MLP's output on each entry. Differentiable in the amplifier."""
    layers = [(amp[f"W{i}"], amp[f"b{i}"]) for i in range(len(amp) // 2)]
    names = list(grads)
    S = next(iter(grads.values())).shape[0]
    flat = [grads[n].reshape(S, -1) for n in names]
    sizes = [f.shape[1] for f in flat]
    h = torch.cat(flat, dim=1).unsqueeze(-1)  # (S, N, 1): every entry is one input
    last = len(layers) - 1
    for i, (W, b) in enumerate(layers):
        # Same math as h @ W + b in every case; the shapes below avoid the CPU's slow
        # paths for an inner or outer dimension of 1 (a broadcast, and a row-vector product).
        if i == last:
            h = torch.baddbmm(b, W.mT, h.mT).mT  # (S, 1, H) @ (S, H, N) -> (S, N, 1)
        elif W.shape[1] == 1:
            h = torch.addcmul(b, h, W)  # (S, N, 1) * (S, 1, H)
        else:
            h = torch.baddbmm(b, h, W)
        if i < last:
            h = torch.relu(h)
    logits = h.squeeze(-1).split(sizes, dim=1)
    out = {}
    for n, g, a in zip(names, flat, logits):
        sg = torch.softmax(a, dim=1) * g
        norm = sg.norm(dim=1, keepdim=True)
        sg = c * sg / torch.where(norm > 0, norm, torch.ones_like(norm))
        out[n] = sg.reshape(grads[n].shape)
    return out


def clip_per_seed(grads: dict[str, Tensor], max_norm: float) -> dict[str, Tensor]:
    """Scale each seed's gradients so their total norm is at most max_norm (as
    torch.nn.utils.clip_grad_norm_: factor min(1, max_norm / (total + 1e-6)))."""
    S = next(iter(grads.values())).shape[0]
    total = torch.stack([g.reshape(S, -1).pow(2).sum(dim=1) for g in grads.values()]).sum(dim=0).sqrt()
    coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
    return {n: g * coef.reshape((S,) + (1,) * (g.dim() - 1)) for n, g in grads.items()}


@register
class NeuralGrok(Transform):
    name = "neuralgrok"
    description = "NeuralGrok (arXiv 2504.17243): learned per-entry amplifier, meta-trained on an outer split"
    search_space = {"c": Log(0.05, 2.0), "meta_lr": Log(1e-5, 1e-3), "T": Choice((1, 4, 16))}
    defaults = {
        "c": 0.2,
        "hidden": (128, 128),
        "T": 4,
        "inner_lr": 1e-3,
        "meta_lr": 1e-4,
        "outer_fraction": 0.02,
        "clip": 1.0,
        "meta_weight_decay": 1e-3,
    }
    constraints = {"c": positive, "hidden": each(at_least(1)), "T": at_least(1), "inner_lr": positive,
                   "meta_lr": positive, "outer_fraction": between(1e-6, 0.5), "clip": nonnegative,
                   "meta_weight_decay": nonnegative}
    presets = {
        "code": Preset("its code's runs (NeuralOptGrok a7490be, task1.sh): c 0.2, hidden (128, 128), T 4",
                       {"c": 0.2, "hidden": (128, 128), "T": 4}),
        "paper_text": Preset("the paper's text: c 1, one hidden layer of 32, T 4", {"c": 1.0, "hidden": (32,), "T": 4}),
    }

    @property
    def holdout_fraction(self) -> float:
        return self.outer_fraction

    @property
    def cost_period(self) -> int:
        """The step cost repeats every T steps (a meta step every T)."""
        return self.T

    def init(self, params, ctx):
        if not 0 < self.outer_fraction < 1:
            raise ValueError(f"neuralgrok.outer_fraction must be in (0, 1), got {self.outer_fraction}")
        amp = init_amplifier(tuple(self.hidden), ctx.generators, ctx.device)
        meta_opt = Adam(lr=self.meta_lr, betas=META_BETAS, weight_decay=self.meta_weight_decay)
        return {"amp": amp, "meta_opt": meta_opt, "meta_state": meta_opt.init(amp, ctx), "meta_steps": 0}

    def update(self, grads, params, state, ctx):
        with torch.no_grad():
            out = amplify(state["amp"], grads, self.c)
            if self.clip > 0:
                out = clip_per_seed(out, self.clip)
        return out

    def after_step(self, params, state, ctx):
        if (ctx.step + 1) % self.T:
            return
        self.meta_step(params, state, ctx)

    def meta_step(self, params, state, ctx) -> None:
        """One first-order look-ahead step of the amplifier; the model is left untouched."""
        if ctx.holdout is None:
            raise RuntimeError("neuralgrok needs the outer split (holdout) from the engine")
        x_in, y_in = ctx.batch
        x_out, y_out = ctx.holdout
        with torch.enable_grad():
            w = {k: p.detach().requires_grad_() for k, p in params.items()}
            g = torch.autograd.grad(ctx.loss_fn(w, x_in, y_in).sum(), list(w.values()))
            amp = {k: v.detach().requires_grad_() for k, v in state["amp"].items()}  # leaves, same storage
            ag = amplify(amp, dict(zip(w, g)), self.c)
            look = {k: params[k].detach() - self.inner_lr * ag[k] for k in params}
            outer = ctx.loss_fn(look, x_out, y_out).sum()  # seeds independent: per-seed grads
            amp_grads = torch.autograd.grad(outer, list(amp.values()))
        # in place on the stored tensors (amp's leaves share their storage)
        meta = state["meta_opt"]
        meta_ctx = replace(ctx, step=state["meta_steps"], lr=meta.lr_at(state["meta_steps"]), slot_settings={})
        meta.step(dict(zip(amp, amp_grads)), state["amp"], state["meta_state"], meta_ctx)
        state["meta_steps"] += 1
