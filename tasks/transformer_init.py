"""Initialization schemes of the transformer in tasks/transformer.py, one seed at a time.

Every scheme walks the same parameter layout (``layout``) in order and draws from the
seed's generator; weights are stored (out, in), as nn.Linear stores them.

- ``default`` (ours; no reference fixes one for this model): embeddings and w_u
  N(0, 1/d_model), every other matrix N(0, 1/fan_in); biases 0 (b_u too).
- ``nanda`` (the progress-measures code): wte, wpe, wq/wk/wv/wo, w_in and w_out
  N(0, 1/d_model); w_u N(0, 1/d_vocab), d_vocab the input vocabulary; biases 0.
- ``torch`` (PyTorch's module defaults, as the Grokfast and NeuralGrok code builds its
  decoder): embeddings N(0, 1) (nn.Embedding); wq/wk/wv U(+-sqrt(6 / 4d)) (xavier_uniform
  of nn.MultiheadAttention's packed (3d, d) input projection) and wo U(+-1/sqrt(d)), their
  biases 0; MLP weights and biases U(+-1/sqrt(fan_in)) (nn.Linear); w_u and b_u (with
  ``head_bias``) U(+-1/sqrt(d)); LayerNorm gains 1, biases 0.

The normal schemes draw each matrix (in, out) and transpose it, so ``default`` gives the
numbers it gave when the weights were stored (in, out); embedding tables are drawn as stored.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from .transformer import TransformerConfig

Layout = list[tuple[str, tuple[int, ...], str]]


def layout(cfg: TransformerConfig) -> Layout:
    """(name, stored shape, kind) of every parameter, in the model's parameter order."""
    d, m = cfg.d_model, cfg.d_mlp
    out: Layout = [("wte", (cfg.vocab, d), "embed"), ("wpe", (cfg.n_ctx, d), "embed")]
    for i in range(cfg.n_layers):
        out += [(f"h{i}.{n}", (d, d), "qkv") for n in ("wq", "wk", "wv")] + [(f"h{i}.wo", (d, d), "wo")]
        if cfg.attn_bias:
            out += [(f"h{i}.{n}", (d,), "attn_bias") for n in ("bq", "bk", "bv", "bo")]
        out += [(f"h{i}.w_in", (m, d), "w_in"), (f"h{i}.b_in", (m,), "b_in"),
                (f"h{i}.w_out", (d, m), "w_out"), (f"h{i}.b_out", (d,), "b_out")]
        if cfg.norm != "none":
            for ln in ("ln1", "ln2"):
                out += [(f"h{i}.{ln}.g", (d,), "ln_g"), (f"h{i}.{ln}.b", (d,), "ln_b")]
    if cfg.norm != "none":
        out += [("lnf.g", (d,), "ln_g"), ("lnf.b", (d,), "ln_b")]
    out.append(("w_u", (cfg.n_out, d), "w_u"))
    return out + ([("b_u", (cfg.n_out,), "b_u")] if cfg.head_bias else [])


def _normal_variances(cfg: TransformerConfig, scheme: str) -> dict[str, int]:
    """Kind -> the denominator v of N(0, 1/v), for the normal schemes."""
    d = cfg.d_model
    if scheme == "nanda":
        return {"embed": d, "qkv": d, "wo": d, "w_in": d, "w_out": d, "w_u": cfg.vocab}
    return {"embed": d, "qkv": d, "wo": d, "w_in": d, "w_out": cfg.d_mlp, "w_u": d}


def _constant(kind: str, shape: tuple[int, ...]) -> Tensor:
    return torch.ones(shape) if kind == "ln_g" else torch.zeros(shape)


def _normal_init(cfg: TransformerConfig, scheme: str, gen: torch.Generator) -> dict[str, Tensor]:
    variance = _normal_variances(cfg, scheme)
    params = {}
    for name, shape, kind in layout(cfg):
        if kind not in variance:
            params[name] = _constant(kind, shape)
        elif kind == "embed":
            params[name] = torch.randn(shape, generator=gen) / math.sqrt(variance[kind])
        else:
            drawn = torch.randn(shape[::-1], generator=gen) / math.sqrt(variance[kind])
            params[name] = drawn.mT.contiguous()
    return params


def _torch_bound(cfg: TransformerConfig, kind: str) -> float | None:
    """The U(+-bound) of PyTorch's default init for ``kind``; None: not uniform."""
    d, m = cfg.d_model, cfg.d_mlp
    bounds = {"qkv": math.sqrt(6 / (4 * d)), "wo": 1 / math.sqrt(d), "w_in": 1 / math.sqrt(d),
              "b_in": 1 / math.sqrt(d), "w_out": 1 / math.sqrt(m), "b_out": 1 / math.sqrt(m),
              "w_u": 1 / math.sqrt(d), "b_u": 1 / math.sqrt(d)}
    return bounds.get(kind)


def _torch_init(cfg: TransformerConfig, gen: torch.Generator) -> dict[str, Tensor]:
    params = {}
    for name, shape, kind in layout(cfg):
        bound = _torch_bound(cfg, kind)
        if kind == "embed":
            params[name] = torch.randn(shape, generator=gen)
        elif bound is not None:
            params[name] = torch.empty(shape).uniform_(-bound, bound, generator=gen)
        else:
            params[name] = _constant(kind, shape)
    return params


INITS = ("default", "nanda", "torch")


def init_params(cfg: TransformerConfig, gen: torch.Generator) -> dict[str, Tensor]:
    """One seed's parameters (no seed axis) under ``cfg.init``, drawn from ``gen``."""
    if cfg.init == "torch":
        return _torch_init(cfg, gen)
    return _normal_init(cfg, cfg.init, gen)
