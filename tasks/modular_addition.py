"""Modular arithmetic with a transformer: predict (a OP b) mod p from the tokens of a and b.

Data (per seed): every pair (a, b) with a in [0, p) and b in [b_min, p), its answer
c = (a OP b) mod p in [0, p); the pairs are shuffled with the seed's data stream and the
first floor(train_frac * n_pairs) form the training set, the rest the test set (so the test
set is every pair not trained on). OP is ``op``: add a+b, sub a-b, mul a*b, sq_sub a*a-b
(NeuralGrok's four). Tokens are ``[a, b, =]`` (vocabulary p+1, ``=`` is token p) or, with
``op_token``, ``[a, op, b, =]`` (``[a, b, op, =]`` with ``op_last``; vocabulary p+2: op is
token p, ``=`` token p+1).

Model: tasks/transformer.py (read it top to bottom): ``norm``, ``attn_bias``, initialized
by ``weight_init`` (tasks/transformer_init.py); the logits come from the last position,
over the p answers (``outputs=answers``) or the whole vocabulary (``outputs=vocab``, as the
papers' code; the answers are tokens 0..p-1). Loss ``loss_type`` (tasks/losses.py):
``cross_entropy`` (default), ``cross_entropy_float64`` (log-softmax in float64) or
``stablemax`` (StableMax cross-entropy in float64, arXiv 2501.04697); mean over the batch.
Accuracy: argmax == c. ``impl="reference"`` trains through the straightforward
implementation (all positions through every layer) instead of the efficient one; same
math, slower.

Units: ``batch_size`` 0 = full batch (then one step = one epoch); ``eval_every`` and
``max_epochs`` in epochs; ``max_steps`` > 0 replaces the budget by a number of steps (the
paper presets state theirs in steps).

Presets, each the paper's setup and its code's (model, init, loss, outputs, split, warm-up);
what each does differently is the last part of its description (``grokbench list``):
- ``nanda`` (progress-measures paper): evaluated every 100 steps, 1% of the thousands of
  steps it takes to grok.
- ``grokfast`` (Grokfast's headline (x*y) mod 97): evaluated every epoch, 10 steps, as its
  code: the published 790 / 910 steps are resolved to 1.3%. Each evaluation is a forward
  pass over all 9,312 pairs, several training steps' worth (untimed; docs/methods.md).
- ``neuralgrok`` (NeuralGrok; ``--set modular_addition:neuralgrok.op=sub`` etc. for its
  other operations): b in [1, p) for every operation, 10-step warm-up, evaluated every epoch.
These presets need a GPU (step costs in benchmarks/README.md). On them ``sketched_egd``
picks the paper code's transformer rank (36) by itself.

The default parameters are the **CPU profile**, made for a 2-core CPU: (a + b) mod 31,
half of the 961 pairs for training, one layer, d_model 64, 4 heads of 16, MLP 256 with
ReLU, no LayerNorm, full batch; AdamW lr 3e-3, weight decay 1.0, betas (0.9, 0.98),
10-step warm-up; evaluated every 50 steps; budget 10,000 steps. It is the Nanda setup
shrunk (p 113 -> 31, d 128 -> 64, 30% -> 50% train, lr 1e-3 -> 3e-3) so that it groks in
seconds to a minute on a CPU and still shows a real plateau (measurements: docs/methods.md).
Target: test accuracy 0.99, i.e. (almost) the whole test set: with 481 test pairs, 0.95
would call a model solved with 24 pairs still wrong, in the middle of the climb; 0.99
marks the end of the transition whose delay the plateau measures.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from grokbench import Preset, Split, Task, register
from grokbench.errors import UserError
from grokbench.params import MAX_SIZE, MAX_STEPS, between, nonnegative
from grokbench.task import Schedule

from . import transformer, transformer_init
from .losses import LOSSES

OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "sq_sub": lambda a, b: a * a - b,
}

PAPER_MODEL = {"d_model": 128, "n_heads": 4, "d_mlp": 512}
# The decoder of the Grokfast and NeuralGrok code (both from the same reimplementation of
# Power et al.), with its training schedule: batch 512, evaluated every epoch, target 0.95.
GROKKING_DECODER = {"n_layers": 2, **PAPER_MODEL, "act": "gelu", "norm": "layernorm_stream", "attn_bias": True,
                    "weight_init": "torch", "outputs": "vocab", "batch_size": 512, "eval_every": 1.0,
                    "target": 0.95}
MAX_P = 10**4  # p^2 examples: 10^8 at most
MAX_LAYERS = 1000
MUON_LR = 0.02
# Lion on this very setup (x*y mod 97, the Grokfast decoder) in Clip to Grok's scripts
# (NiftyliuS/cliptogrok train.py and lion_clip_mul_p97.py): lr 1e-3, betas (0.9, 0.97), no decay.
CLIP_TO_GROK_LION = {"lr": 1e-3, "betas": (0.9, 0.97), "weight_decay": 0.0, "warmup_steps": 10}


def muon_settings(lr: float, decay_per_step: float, adamw_weight_decay: float) -> dict:
    """Muon settings paired with an Adam(W) protocol: its lr, betas, warm-up and decay for the
    AdamW part; Muon's lr 0.02 with the same decoupled decay per step (lr * weight_decay)."""
    return {"lr": MUON_LR, "weight_decay": decay_per_step / MUON_LR, "adamw_lr": lr, "adamw_betas": (0.9, 0.98),
            "adamw_weight_decay": adamw_weight_decay, "warmup_steps": 10}


@register
class ModularAddition(Task):
    name = "modular_addition"
    description = "(a OP b) mod p from tokens [a, (op,) b, =]; small transformer, answer read at the last position"
    defaults = {
        "p": 31,
        "op": "add",
        "b_min": 0,
        "op_token": False,
        "train_frac": 0.5,
        "n_layers": 1,
        "d_model": 64,
        "n_heads": 4,
        "d_mlp": 256,
        "act": "relu",
        "norm": "none",
        "causal": True,
        "attn_bias": False,
        "outputs": "answers",
        "op_last": False,
        "weight_init": "default",
        "loss_type": "cross_entropy",
        "impl": "fast",
        "batch_size": 0,
        "eval_every": 50.0,
        "max_epochs": 10000,
        "max_steps": 0,
        "target": 0.99,
        "fit_threshold": 0.99,
    }
    choices = {
        "op": tuple(OPS),
        "act": ("relu", "gelu"),
        "norm": transformer.NORMS,
        "impl": ("fast", "reference"),
        "weight_init": transformer_init.INITS,
        "outputs": ("answers", "vocab"),
        "loss_type": tuple(LOSSES),
    }
    presets = {
        "nanda": Preset(
            "Nanda et al. (progress measures): (a+b) mod 113, 30% train, 1 layer d128 4 heads MLP 512 ReLU, no norm, "
            "its init, logits over p+1 tokens, float64 cross-entropy, full batch, AdamW lr 1e-3 wd 1.0 "
            "betas (0.9,0.98) warm-up 10, eval every 100 steps; ours: budget 40k steps, target 0.99",
            {"p": 113, "train_frac": 0.3, **PAPER_MODEL, "weight_init": "nanda", "outputs": "vocab",
             "loss_type": "cross_entropy_float64", "eval_every": 100.0, "max_epochs": 40000},
            optimizer={"adamw": {"lr": 1e-3, "weight_decay": 1.0, "betas": (0.9, 0.98), "warmup_steps": 10},
                       "adam": {"lr": 1e-3, "betas": (0.9, 0.98), "warmup_steps": 10},
                       "muon": muon_settings(lr=1e-3, decay_per_step=1e-3, adamw_weight_decay=1.0)},
            base_optimizer="adamw",
        ),
        "grokfast": Preset(
            "Grokfast headline: (x*y) mod 97, y in [1,97), tokens [x,op,y,=], its decoder (2 layers d128 4 heads, "
            "biased attention, MLP 512 GELU, LayerNorm on the stream, PyTorch init, logits over p+2 tokens), "
            "50% train, batch 512, Adam lr 1e-3 betas (0.9,0.98) warm-up 10, no decay, eval every epoch; "
            "3e5 steps, target 0.95",
            {"p": 97, "op": "mul", "b_min": 1, "op_token": True, **GROKKING_DECODER, "max_steps": 300_000},
            optimizer={"adam": {"lr": 1e-3, "betas": (0.9, 0.98), "warmup_steps": 10, "weight_decay": 0.0},
                       "adamw": {"lr": 1e-3, "betas": (0.9, 0.98), "warmup_steps": 10, "weight_decay": 0.0},
                       "muon": muon_settings(lr=1e-3, decay_per_step=0.0, adamw_weight_decay=0.0),
                       "lion": CLIP_TO_GROK_LION},
            base_optimizer="adam",
        ),
        "neuralgrok": Preset(
            "NeuralGrok: (a+b) mod 97, b in [1,97) (op= sub|mul|sq_sub for its other tasks), tokens [a,b,op,=], "
            "the grokfast preset's decoder, 50% train, batch 512, Adam lr 1e-3 betas (0.9,0.98) L2 wd 1e-3, "
            "warm-up 10, eval every epoch, target 0.95; ours: 1e5-step budget, logits over p+2 tokens (its code: p+4), "
            "one op token for sq_sub (its code: two)",
            {"p": 97, "b_min": 1, "op_token": True, "op_last": True, **GROKKING_DECODER, "max_steps": 100_000},
            optimizer={"adam": {"lr": 1e-3, "betas": (0.9, 0.98), "warmup_steps": 10, "weight_decay": 1e-3},
                       "adamw": {"lr": 1e-3, "betas": (0.9, 0.98), "warmup_steps": 10, "weight_decay": 1e-3},
                       "muon": muon_settings(lr=1e-3, decay_per_step=1e-6, adamw_weight_decay=1e-3)},
            base_optimizer="adam",
        ),
        "cpu_add": Preset(
            "(a+b) mod 31 at 70% train on the default CPU model, AdamW defaults, budget 2,500 steps; measured "
            "(2-core AMD EPYC, seeds 0-7): fitted at step 100, stable solve on 8/8 at 350-1,050 steps (median 675)",
            {"train_frac": 0.7, "max_epochs": 2500},
        ),
    }
    constraints = {"p": between(2, MAX_P), "train_frac": between(0.01, 0.99), "n_layers": between(1, MAX_LAYERS),
                   "d_model": between(1, MAX_SIZE), "n_heads": between(1, MAX_SIZE), "d_mlp": between(1, MAX_SIZE),
                   "max_steps": between(0, MAX_STEPS), "b_min": nonnegative}

    def validate(self) -> None:
        if self.d_model % self.n_heads:
            raise UserError(f"{self.name}: d_model={self.d_model} must be a multiple of n_heads={self.n_heads}")
        if self.b_min >= self.p:
            raise UserError(f"{self.name}: b_min={self.b_min} leaves no operand below p={self.p}")

    # Each paper preset also gives the other Adam variant the paper's lr, betas and warm-up
    # (for NAME@adam / NAME@adamw comparisons), with the paper's decay value, and Muon's
    # AdamW part the same (muon_settings).
    # the leaderboard's CPU profile (v3): the default (50% train, 10,000 steps) costs ~4x more
    # steps per solve on a CPU; the paper presets need a GPU
    leaderboard_presets = ("cpu_add",)
    report_seeds = 20  # minutes per trial on a CPU; detects a method faster on >= 89% of seeds
    tuning_trials = 16  # grokbench tune --trials auto (docs/tuning.md)
    cpu_gradient_seeds = 1  # ~20% off a CPU step at 6-20 seeds (benchmarks/README.md, issue #28)
    base_optimizer = "adamw"
    optimizer_defaults = {
        "adamw": {"lr": 3e-3, "weight_decay": 1.0, "betas": (0.9, 0.98), "warmup_steps": 10},
        "adam": {"lr": 1e-3, "betas": (0.9, 0.98), "warmup_steps": 10, "weight_decay": 0.0},
        # Not from a reference (none trains this model with SGD); a plain working default.
        "sgd": {"lr": 0.1, "weight_decay": 0.0},
        # Ours, not tuned (docs/methods.md): the AdamW part as adamw above, Muon's lr 0.02
        # with the decay per step lr * weight_decay of adamw above (3e-3).
        "muon": muon_settings(lr=3e-3, decay_per_step=3e-3, adamw_weight_decay=1.0),
        # Ours, not tuned: Lion's lr 3x below AdamW's, the same decay per step (lr * wd = 3e-3).
        "lion": {"lr": 1e-3, "weight_decay": 3.0, "betas": (0.9, 0.99), "warmup_steps": 10},
    }

    def __init__(self, **overrides) -> None:
        super().__init__(**overrides)
        self.config = self.model_config()

    # -- the table and its tokens (a subclass with other operations overrides these) ----------
    @property
    def n_elements(self) -> int:
        """Number of distinct operands and answers: tokens 0..n_elements-1 are the elements."""
        return self.p

    @property
    def n_special(self) -> int:
        """Tokens after the elements: ``=`` alone, or op and ``=`` (``op_token``)."""
        return 2 if self.op_token else 1

    def model_config(self, **extra) -> transformer.TransformerConfig:
        """The transformer for this task's tokens; ``extra``: further TransformerConfig fields."""
        vocab = self.n_elements + self.n_special
        return transformer.TransformerConfig(
            vocab=vocab,
            n_ctx=2 + self.n_special,
            n_out=vocab if self.outputs == "vocab" else self.n_elements,
            d_model=self.d_model,
            n_heads=self.n_heads,
            d_mlp=self.d_mlp,
            n_layers=self.n_layers,
            act=self.act,
            norm=self.norm,
            causal=self.causal,
            attn_bias=self.attn_bias,
            init=self.weight_init,
            **extra,
        )

    def table(self) -> tuple[Tensor, Tensor, Tensor]:
        """Every pair in a fixed order (a major, b minor) and its answer: a, b, c (n_pairs,) long."""
        a = torch.arange(self.p).repeat_interleave(self.p - self.b_min)
        b = torch.arange(self.b_min, self.p).repeat(self.p)
        return a, b, torch.remainder(OPS[self.op](a, b), self.p)

    def tokens(self, a: Tensor, b: Tensor) -> Tensor:
        """The input sequences (n_pairs, T): [a, b, =], or [a, op, b, =] / [a, b, op, =]."""
        equals = torch.full_like(a, self.config.vocab - 1)
        if not self.op_token:
            return torch.stack([a, b, equals], dim=1)
        op = torch.full_like(a, self.n_elements)
        return torch.stack([a, b, op, equals] if self.op_last else [a, op, b, equals], dim=1)

    # -- per seed -------------------------------------------------------------------------
    def all_pairs(self) -> tuple[Tensor, Tensor]:
        """Every example in a fixed order: tokens (n_pairs, T) long, answers (n_pairs,) long."""
        a, b, answer = self.table()
        return self.tokens(a, b), answer

    def make_data(self, gen: torch.Generator) -> Split:
        tokens, answer = self.all_pairs()
        perm = torch.randperm(len(answer), generator=gen)
        n_train = int(self.train_frac * len(answer))  # floor, as the papers' code
        train, test = perm[:n_train], perm[n_train:]
        return Split(tokens[train], answer[train], tokens[test], answer[test])

    def init_params(self, gen: torch.Generator) -> dict[str, Tensor]:
        return transformer.init_params(self.config, gen)

    def parameter_count(self) -> int:
        return sum(math.prod(shape) for _, shape, _ in transformer_init.layout(self.config))

    def data_bytes(self) -> int:
        return 8 * self.p * (self.p - self.b_min) * (self.config.n_ctx + 1)  # int64 tokens and answers

    # -- batched over seeds --------------------------------------------------------------------
    def forward(self, params: dict[str, Tensor], x: Tensor) -> Tensor:
        """Tokens (S, B, T) -> logits (S, B, p), or (S, B, vocab) with outputs=vocab."""
        fn = transformer.forward if self.impl == "fast" else transformer.forward_reference
        return fn(params, x, self.config)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return LOSSES[self.loss_type](out, y)

    def correct(self, out: Tensor, y: Tensor) -> Tensor:
        return out.argmax(dim=-1) == y

    def schedule(self, n_train: int) -> Schedule:
        """As Task.schedule; ``max_steps`` > 0 replaces the budget ``max_epochs``."""
        base = super().schedule(n_train)
        if self.max_steps > 0:
            return Schedule(base.batch_size, base.steps_per_epoch, base.eval_every, self.max_steps)
        return base
