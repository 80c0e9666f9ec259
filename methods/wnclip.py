"""Weight-norm clipping, "Clip to Grok" (NiftyliuS/cliptogrok): keep every weight row inside
the ball of radius ``max_norm`` after each optimizer step, instead of weight decay.

After every optimizer step (``after_step``, inside the timed step), for each clipped
parameter w and each row r (its last dimension; a vector is one row, a per-seed scalar a
row of one):

    w_r <- w_r * min(1, max_norm / max(||w_r||, 1e-8))

Which parameters: all but those matching ``skip`` (comma-separated fnmatch patterns on the
parameter names; default ``wte,w_u,b_u``, the transformer's token embedding and head). As
its code (norms.py ``clip_weight_norms``, which skips names containing
``token_embeddings`` or ``head``), that clips the decoder blocks (attention, MLP,
LayerNorm, their biases), the final LayerNorm, and also the position embedding; its
README's prose names only the decoder layers. Attention biases are clipped per projection
(bq, bk, bv separately; its nn.MultiheadAttention packs them into one vector of 3d).
On the sparse tasks' MLPs nothing matches the default ``skip``: every parameter is clipped.

Initialization (``init``, once, before the first step): the rows of the parameters chosen
by ``init_pattern`` are *projected* to norm exactly ``init_norm`` (a zero row stays zero),
then everything is clipped once, as its train.py does: ``all`` (every parameter; its choice
for shallow models), ``edge_ln`` (token embedding, final LayerNorm and head: wte, lnf.*,
w_u, b_u; its choice for deep models), ``edge`` (wte, w_u, b_u); ``init_norm`` 0 = no
projection. So this method starts from another initialization than the others (same
draws, rescaled rows): that is part of its protocol.

Weight decay: none (its protocol replaces decay by clipping): the base optimizer's
``weight_decay`` is 0 whatever the task's (``base_settings``; not tuned either), Muon's
AdamW part keeps its own. Defaults (max_norm 2.0, init_norm 2.0, init_pattern all) are its
scripts' for the 2-layer models. The gradient itself is not changed.

Preset ``lion``: its best pairing, Lion with its scripts' lr 1e-3, betas (0.9, 0.97), no
decay (``wnclip:lion``); plain ``wnclip`` runs on the task's base (Adam on
``modular_addition:grokfast``: its Adam + clip).
"""

from __future__ import annotations

from fnmatch import fnmatch

import torch
from torch import Tensor

from grokbench import Preset, Transform, register
from grokbench.params import nonnegative, positive
from grokbench.search import Linear

EDGE = ("wte", "w_u", "b_u")
INIT_PATTERNS = {"all": ("*",), "edge": EDGE, "edge_ln": (*EDGE, "lnf.*")}
CLIP_LION = {"lr": 1e-3, "betas": (0.9, 0.97), "weight_decay": 0.0}


def matches(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch(name, p) for p in patterns)


def row_norms(w: Tensor) -> Tensor:
    """Norm of each row (last dimension) of w, keepdim; a per-seed scalar (S,) is a row of one."""
    return w.abs() if w.dim() == 1 else w.norm(dim=-1, keepdim=True)


def clip_rows_(w: Tensor, max_norm: float) -> None:
    """w_r <- w_r * min(1, max_norm / max(||w_r||, 1e-8)), in place."""
    norm = row_norms(w).clamp(min=1e-8)
    w.mul_(norm.clamp(max=max_norm) / norm)


def project_rows_(w: Tensor, norm_to: float) -> None:
    """w_r <- w_r * norm_to / max(||w_r||, 1e-8), in place (a zero row stays zero)."""
    w.mul_(norm_to / row_norms(w).clamp(min=1e-8))


@register
class WNClip(Transform):
    name = "wnclip"
    description = "Weight-norm clipping, Clip to Grok: rows of all but embedding/head clipped to norm 2 after each step"
    search_space = {"max_norm": Linear(1.0, 3.0)}
    defaults = {"max_norm": 2.0, "init_norm": 2.0, "init_pattern": "all", "skip": "wte,w_u,b_u"}
    choices = {"init_pattern": tuple(INIT_PATTERNS)}
    constraints = {"max_norm": positive, "init_norm": nonnegative}
    base_settings = {"weight_decay": 0.0}
    presets = {
        "lion": Preset("Clip to Grok's best pairing: Lion, lr 1e-3, betas (0.9, 0.97), no decay", {},
                       optimizer={"lion": CLIP_LION}, base_optimizer="lion"),
    }

    def clipped(self, names) -> list[str]:
        """The parameter names clipped after each step (all but ``skip``)."""
        skip = tuple(p.strip() for p in self.skip.split(",") if p.strip())
        return [n for n in names if not matches(n, skip)]

    def init(self, params, ctx):
        names = self.clipped(params)
        with torch.no_grad():
            if self.init_norm > 0:
                for name, w in params.items():
                    if matches(name, INIT_PATTERNS[self.init_pattern]):
                        project_rows_(w, self.init_norm)
            for name in names:
                clip_rows_(params[name], self.max_norm)
        return {"names": names}

    def update(self, grads, params, state, ctx):
        return grads

    def after_step(self, params, state, ctx):
        with torch.no_grad():
            for name in state["names"]:
                clip_rows_(params[name], self.max_norm)
