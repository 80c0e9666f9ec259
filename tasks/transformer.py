"""A small decoder-style transformer over a leading seed axis, read top to bottom.

The model of the modular-arithmetic tasks: a sequence of T tokens (e.g. ``[a, b, =]``)
goes in, the logits of the answer come out of the *last* position. Every parameter has a
leading seed axis S (one independent model per seed, never mixed); tokens are (S, B, T).

    h = wte[tokens] + wpe                               token + position embedding (S, B, T, d)
    for each block:
        h = h + attn(norm(h)) @ wo^T                    multi-head, causal or full
        h = h + act(norm(h) @ w_in^T + b_in) @ w_out^T + b_out
    logits = norm(h[:, :, -1]) @ w_u^T                  answer position only -> (S, B, n_out)

norm: ``none`` (identity, no final norm); ``layernorm`` (pre-norm, and a final norm before
the unembedding); ``layernorm_stream``, the Grokfast / NeuralGrok code's block: the stream
itself is normalized before attention, h = norm(h); h = h + attn(h), then the MLP and the
final norm as with ``layernorm``; ``post_layernorm``, the AI-Scientist grokking template's
block (post-LN): h = norm(h + attn(h)); h = norm(h + mlp(h)), then the final norm.
``attn_bias`` adds biases to q, k, v and the output projection (as nn.MultiheadAttention).
The MLP has biases; the unembedding has one only with ``head_bias`` (b_u).

Shapes per seed (no seed axis), weights stored as nn.Linear stores them, (out, in):
wte (vocab, d), wpe (T, d), wq/wk/wv/wo (d, d), [bq/bk/bv/bo (d,)], w_in (d_mlp, d),
b_in (d_mlp,), w_out (d, d_mlp), b_out (d,), w_u (n_out, d) [, b_u (n_out,)]; with a norm
also ln1/ln2/lnf gains and biases (d,). Initialization: ``init`` (tasks/transformer_init.py).

Two implementations of the same math:

- ``forward`` (the one tasks train with) computes only what the loss needs: the unembedding
  reads the answer position only, and the last block runs its attention *query*, output
  projection and MLP for that position only (keys and values still cover all positions).
  Attention over at most ``SHORT_SEQUENCE`` positions (every CPU task here: T = 3 or 4) is
  written out over the (S, B, T, heads, d_head) layout (``short_attention``): torch's fused
  ``scaled_dot_product_attention``, kept for longer sequences, spends ~3x as long on a CPU
  there (its per-sequence overhead on 5,000+ sequences of 3 tokens; benchmarks/README.md).
- ``forward_reference`` runs every position through every layer with explicit
  softmax(q k^T / sqrt(dh)) attention, then reads the last position: the straightforward
  implementation, kept as the check of the fast one (tests) and the baseline of
  benchmarks/transformer_step.py.

Determinism on CPU with several threads: the token embedding is ``F.embedding`` (fixed-order
backward), not advanced indexing (whose backward adds atomically in parallel); see
``embed`` and docs/methods.md for the experiment behind this choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from . import transformer_init

Params = dict[str, Tensor]
ACTS = ("relu", "gelu")
NORMS = ("none", "layernorm", "layernorm_stream", "post_layernorm")


@dataclass(frozen=True)
class TransformerConfig:
    """Shape of the model. vocab: input tokens; n_ctx: sequence length T; n_out: classes."""

    vocab: int
    n_ctx: int
    n_out: int
    d_model: int = 128
    n_heads: int = 4
    d_mlp: int = 512
    n_layers: int = 1
    act: str = "relu"  # relu | gelu
    norm: str = "none"  # none | layernorm | layernorm_stream | post_layernorm (module docstring)
    causal: bool = True
    attn_bias: bool = False  # biases on the q, k, v and output projections
    head_bias: bool = False  # a bias on the unembedding (b_u)
    init: str = "default"  # default | nanda | torch (tasks/transformer_init.py)

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.act not in ACTS or self.norm not in NORMS or self.init not in transformer_init.INITS:
            raise ValueError(f"act must be one of {ACTS}, norm one of {NORMS}, init one of "
                             f"{transformer_init.INITS}; got {self.act}, {self.norm}, {self.init}")


# -- parameters (one seed, no seed axis) ----------------------------------------------------
def init_params(cfg: TransformerConfig, gen: torch.Generator) -> Params:
    """One seed's parameters, drawn from ``gen`` in a fixed order (tasks/transformer_init.py)."""
    return transformer_init.init_params(cfg, gen)


# -- building blocks, batched over seeds ------------------------------------------------------
def _per_seed(v: Tensor, like: Tensor) -> Tensor:
    """A per-seed vector (S, k) shaped to broadcast against like (S, ..., k)."""
    return v.reshape(v.shape[0], *([1] * (like.dim() - 2)), v.shape[-1])


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """x (S, ..., d_in) @ w^T, w (S, d_out, d_in) [+ b (S, d_out)]: one batched matmul per seed."""
    out = torch.bmm(x.reshape(x.shape[0], -1, x.shape[-1]), w.mT).reshape(*x.shape[:-1], w.shape[-2])
    return out if b is None else out + _per_seed(b, out)


def embed(wte: Tensor, tokens: Tensor) -> Tensor:
    """Token embedding: wte (S, V, d), tokens (S, B, T) -> (S, B, T, d).

    One ``F.embedding`` over the seeds' tables laid end to end (seed s's token t is row
    s*V + t). Its CPU backward accumulates in a fixed order, so it is deterministic with
    any thread count; the obvious ``wte[s, tokens]`` is not: its backward is an
    accumulating ``index_put_`` whose parallel atomic adds are not ordered.
    """
    s, v, d = wte.shape
    offsets = torch.arange(s, device=tokens.device).reshape(s, *([1] * (tokens.dim() - 1))) * v
    return F.embedding(tokens + offsets, wte.reshape(s * v, d))


def layer_norm(x: Tensor, g: Tensor, b: Tensor) -> Tensor:
    return F.layer_norm(x, x.shape[-1:]) * _per_seed(g, x) + _per_seed(b, x)


def _norm(p: Params, prefix: str, x: Tensor, cfg: TransformerConfig) -> Tensor:
    return x if cfg.norm == "none" else layer_norm(x, p[f"{prefix}.g"], p[f"{prefix}.b"])


def _attn_input(p: Params, i: int, h: Tensor, cfg: TransformerConfig) -> tuple[Tensor, Tensor]:
    """(the stream after the block's first norm, attention's input): with
    ``layernorm_stream`` the normalized input replaces the stream itself; with
    ``post_layernorm`` attention reads the stream as it is (its norm comes after)."""
    if cfg.norm == "post_layernorm":
        return h, h
    x = _norm(p, f"h{i}.ln1", h, cfg)
    return (x if cfg.norm == "layernorm_stream" else h), x


def _after_attn(p: Params, i: int, h: Tensor, cfg: TransformerConfig) -> Tensor:
    """The stream after the attention residual: post-LN normalizes it (ln1), others keep it."""
    return layer_norm(h, p[f"h{i}.ln1.g"], p[f"h{i}.ln1.b"]) if cfg.norm == "post_layernorm" else h


def _mlp_block(p: Params, i: int, h: Tensor, cfg: TransformerConfig) -> Tensor:
    """The MLP residual: h + mlp(norm(h)) (pre-norm), or norm(h + mlp(h)) (post-LN, ln2)."""
    if cfg.norm == "post_layernorm":
        return layer_norm(h + mlp(p, i, h, cfg), p[f"h{i}.ln2.g"], p[f"h{i}.ln2.b"])
    return h + mlp(p, i, _norm(p, f"h{i}.ln2", h, cfg), cfg)


def _proj(p: Params, i: int, name: str, x: Tensor) -> Tensor:
    """Attention projection ``name`` (q, k, v or o) of block i, with its bias if it has one."""
    return linear(x, p[f"h{i}.w{name}"], p.get(f"h{i}.b{name}"))


def _heads(x: Tensor, n_heads: int) -> Tensor:
    """(S, B, T, d) -> (S*B, heads, T, d_head), the layout the attention kernels take."""
    s, b, t, d = x.shape
    return x.reshape(s * b, t, n_heads, d // n_heads).transpose(1, 2)


def _merge(x: Tensor, s: int) -> Tensor:
    """(S*B, heads, T, d_head) -> (S, B, T, d)."""
    sb, h, t, dh = x.shape
    return x.transpose(1, 2).reshape(s, sb // s, t, h * dh)


def mlp(p: Params, i: int, x: Tensor, cfg: TransformerConfig) -> Tensor:
    hidden = linear(x, p[f"h{i}.w_in"], p[f"h{i}.b_in"])
    hidden = F.relu(hidden) if cfg.act == "relu" else F.gelu(hidden)
    return linear(hidden, p[f"h{i}.w_out"], p[f"h{i}.b_out"])


def unembed(p: Params, h_last: Tensor, cfg: TransformerConfig) -> Tensor:
    """Residual stream at the answer position (S, B, d) -> logits (S, B, n_out)."""
    return linear(_norm(p, "lnf", h_last, cfg), p["w_u"], p.get("b_u"))


# -- the efficient forward ----------------------------------------------------------------------
SHORT_SEQUENCE = 8  # up to this many key positions, attention is written out (short_attention)


def short_attention(q: Tensor, k: Tensor, v: Tensor, n_heads: int, causal: bool) -> Tensor:
    """softmax(q k^T / sqrt(d_head) [+ causal mask]) v for a few positions, without the
    (S*B, heads, T, d_head) transposes: q (S, B, Tq, d), k and v (S, B, T, d) -> (S, B, Tq, d).
    The scores are elementwise products summed over d_head (T x Tq of them per head), the
    output a weighted sum over the T keys: the same math as ``attention_reference`` in
    another summation order. ``causal`` with Tq = T masks later keys; a single query
    (Tq = 1) sees every key."""
    s, b, t, d = k.shape
    tq, dh = q.shape[2], d // n_heads
    qh = q.reshape(s, b, tq, 1, n_heads, dh)
    kh, vh = k.reshape(s, b, 1, t, n_heads, dh), v.reshape(s, b, 1, t, n_heads, dh)
    scores = (qh * kh).sum(-1) * (1.0 / math.sqrt(dh))  # (S, B, Tq, T, heads)
    if causal and tq > 1:
        future = torch.ones(tq, t, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future.reshape(tq, t, 1), float("-inf"))
    weights = scores.softmax(dim=3).unsqueeze(-1)
    return (weights * vh).sum(3).reshape(s, b, tq, d)


def attention(q: Tensor, k: Tensor, v: Tensor, n_heads: int, causal: bool) -> Tensor:
    """Multi-head attention on (S, B, T, d) tensors: ``short_attention`` for at most
    ``SHORT_SEQUENCE`` keys, torch's fused kernel beyond. A single query (causal or not)
    sees every key (is_causal with one query would wrongly keep only the first key)."""
    if k.shape[2] <= SHORT_SEQUENCE:
        return short_attention(q, k, v, n_heads, causal)
    qh, kh, vh = (_heads(x, n_heads) for x in (q, k, v))
    att = F.scaled_dot_product_attention(qh, kh, vh, is_causal=causal and q.shape[2] > 1)
    return _merge(att, q.shape[0])


def forward(p: Params, tokens: Tensor, cfg: TransformerConfig) -> Tensor:
    """Logits at the answer (last) position, (S, B, n_out), computing only what they need."""
    h = embed(p["wte"], tokens) + p["wpe"].unsqueeze(1)  # (S, B, T, d)
    last = cfg.n_layers - 1
    for i in range(cfg.n_layers):
        h, x = _attn_input(p, i, h, cfg)
        k, v = _proj(p, i, "k", x), _proj(p, i, "v", x)
        if i < last:
            att = attention(_proj(p, i, "q", x), k, v, cfg.n_heads, cfg.causal)
            h = _after_attn(p, i, h + _proj(p, i, "o", att), cfg)
        else:  # last block: only the answer position's query, which sees every key
            att = attention(_proj(p, i, "q", x[:, :, -1:]), k, v, cfg.n_heads, cfg.causal)
            h = _after_attn(p, i, h[:, :, -1:] + _proj(p, i, "o", att), cfg)  # (S, B, 1, d)
        h = _mlp_block(p, i, h, cfg)
    return unembed(p, h[:, :, -1], cfg)


# -- the straightforward forward (reference) --------------------------------------------------
def attention_reference(q: Tensor, k: Tensor, v: Tensor, causal: bool) -> Tensor:
    """softmax(q k^T / sqrt(d_head) [+ causal mask]) v, written out."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        t = q.shape[-2]
        mask = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~mask, float("-inf"))
    return scores.softmax(dim=-1) @ v


def forward_reference(p: Params, tokens: Tensor, cfg: TransformerConfig) -> Tensor:
    """Same math as ``forward``: every position through every layer, then the last one read."""
    s = tokens.shape[0]
    h = embed(p["wte"], tokens) + p["wpe"].unsqueeze(1)
    for i in range(cfg.n_layers):
        h, x = _attn_input(p, i, h, cfg)
        q, k, v = (_heads(_proj(p, i, n, x), cfg.n_heads) for n in ("q", "k", "v"))
        h = _after_attn(p, i, h + _proj(p, i, "o", _merge(attention_reference(q, k, v, cfg.causal), s)), cfg)
        h = _mlp_block(p, i, h, cfg)
    logits = linear(_norm(p, "lnf", h, cfg), p["w_u"], p.get("b_u"))  # every position, (S, B, T, n_out)
    return logits[:, :, -1]
