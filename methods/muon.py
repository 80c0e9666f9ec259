"""Muon (Keller Jordan's optimizer; for grokking, arXiv 2504.16041), as torch.optim.Muon.

For every hidden weight matrix W (per seed) with gradient g and momentum buffer B (B_0 = 0):

    B <- lerp(B, g, 1 - momentum)                  = momentum * B + (1 - momentum) * g
    u  = lerp(g, B, momentum)    (nesterov=true)   or  u = B  (nesterov=false)
    O  = NewtonSchulz(u)         quintic (3.4445, -4.7750, 2.0315), ``ns_steps`` 5, in
                                 ``ns_dtype``, after u / max(||u||_F, eps)
    W <- W * (1 - lr * weight_decay)               (decoupled, with the unadjusted lr)
    W <- W - lr * adjust(shape) * O                original: sqrt(max(1, rows / cols));
                                                   match_rms_adamw: 0.2 * sqrt(max(rows, cols))

This is torch's momentum convention (a lerp). Keller Jordan's (B <- mu B + g,
u = g + mu B) differs from it only by the factor 1 / (1 - mu), which the normalization
inside Newton-Schulz removes, so both give the same O. rows x cols is the matrix as stored
per seed; every task here stores weights as nn.Linear does, (out, in).

Every other parameter goes to AdamW (``adamw_lr``, ``adamw_betas``, ``adamw_eps``,
``adamw_weight_decay``; as methods/adamw.py): parameters that are not matrices per seed
(biases, LayerNorm gains, scalars, and tensors of more than two dims, which
torch.optim.Muon rejects), and the matrices ``adamw_params`` names. ``auto`` (default)
names the embeddings (parameter names ``wte``, ``wpe``, ``W_E``, ``W_pos`` or matching
``*embed*``) and the output head (the last matrix in the model's parameter order: ``w_u``
on the transformer, ``W2`` on the sparse tasks' MLP), the common practice; otherwise a
comma-separated list of fnmatch patterns (empty: every matrix to Muon).

Learning rate: ``lr`` is Muon's; the warm-up (``warmup_steps``) scales ``adamw_lr`` by the
same factor. Defaults are torch's: lr 1e-3, weight_decay 0.1, momentum 0.95, nesterov,
eps 1e-7, 5 steps, and torch.optim.AdamW's for the AdamW part; tasks set their own.

Relation to ``sketched_egd:ns``: that is the same Newton-Schulz on the raw gradient of the
chosen matrices, before the task's base optimizer; Muon applies it to a Nesterov momentum
and steps the matrices itself. Comparing the two separates momentum from orthogonalization.

Seed axis: every tensor is (S, ...); momentum, Newton-Schulz and norms act per seed.

Deviation, ours: ``ns_dtype=auto`` runs Newton-Schulz in float32 off CUDA (torch: always bfloat16, slow on a CPU).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from grokbench import Optimizer, register
from grokbench.search import Linear, Log

from ._linalg import QUINTIC, match, newton_schulz, patterns
from .adamw import AdamW

EMBEDDING_PATTERNS = ("wte", "wpe", "W_E", "W_pos", "*embed*")


def ns_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on CUDA (as torch.optim.Muon), float32 elsewhere."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return getattr(torch, name)


def adjust_lr(lr: float, adjust_lr_fn: str, shape: tuple[int, ...]) -> float:
    """torch.optim.Muon's shape-dependent learning rate for a matrix of ``shape`` (rows, cols)."""
    rows, cols = shape[:2]
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * math.sqrt(max(rows, cols))
    return lr * math.sqrt(max(1, rows / cols))


def muon_matrices(params: dict[str, Tensor], adamw_params: str) -> list[str]:
    """Names of the parameters Muon steps (the rest go to AdamW); see the module docstring."""
    matrices = [n for n, p in params.items() if p.dim() == 3]
    if adamw_params.strip().lower() == "auto":
        excluded = set(match(matrices, list(EMBEDDING_PATTERNS))) | set(matrices[-1:])
    else:
        excluded = set(match(matrices, patterns(adamw_params)))
    return [n for n in matrices if n not in excluded]


@register
class Muon(Optimizer):
    name = "muon"
    description = "Muon (as torch.optim.Muon): Nesterov momentum + Newton-Schulz on hidden matrices, AdamW on the rest"
    search_space = {"lr": Log(1e-3, 0.3), "weight_decay": Log(1e-3, 1.0, zero=0.25), "momentum": Linear(0.8, 0.99)}
    defaults = {
        "lr": 1e-3,
        "weight_decay": 0.1,
        "momentum": 0.95,
        "nesterov": True,
        "ns_coefficients": QUINTIC,
        "ns_steps": 5,
        "eps": 1e-7,
        "adjust_lr_fn": "original",
        "ns_dtype": "auto",
        "adamw_params": "auto",
        "adamw_lr": 1e-3,
        "adamw_betas": (0.9, 0.999),
        "adamw_eps": 1e-8,
        "adamw_weight_decay": 0.01,
        "warmup_steps": 0,
    }
    choices = {"adjust_lr_fn": ("original", "match_rms_adamw"), "ns_dtype": ("auto", "bfloat16", "float32")}

    def __init__(self, **overrides: Any) -> None:
        super().__init__(**overrides)
        self.adamw = AdamW(lr=self.adamw_lr, betas=self.adamw_betas, eps=self.adamw_eps,
                           weight_decay=self.adamw_weight_decay)

    def init(self, params, ctx) -> dict[str, Any]:
        names = muon_matrices(params, self.adamw_params)
        rest = {k: p for k, p in params.items() if k not in names}
        return {
            "muon": names,
            "momentum": {k: torch.zeros_like(params[k]) for k in names},
            "adamw": self.adamw.init(rest, ctx),
        }

    def step(self, grads, params, state, ctx):
        with torch.no_grad():
            for name in state["muon"]:
                self._muon_step(params[name], grads[name], state["momentum"][name], ctx.lr)
        rest = {k: p for k, p in params.items() if k not in state["momentum"]}
        if rest:
            warmup = ctx.lr / self.lr if self.lr else 1.0
            self.adamw.step(grads, rest, state["adamw"], replace(ctx, lr=self.adamw_lr * warmup))

    def _muon_step(self, param: Tensor, grad: Tensor, buf: Tensor, lr: float) -> None:
        """One Muon update of a seed-stacked matrix param (S, rows, cols), in place."""
        buf.lerp_(grad, 1 - self.momentum)
        update = grad.lerp(buf, self.momentum) if self.nesterov else buf
        dtype = ns_dtype(self.ns_dtype, param.device)
        ortho = newton_schulz(update, self.ns_steps, tuple(self.ns_coefficients), dtype, self.eps)
        param.mul_(1 - lr * self.weight_decay)
        param.add_(ortho, alpha=-adjust_lr(lr, self.adjust_lr_fn, tuple(param.shape[1:])))
