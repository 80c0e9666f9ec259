"""A tuned run's controls (:mod:`grokbench.tuning.controls`), each a family of its own.

Contract: the task's base optimizer alone at a tuned accelerator's base settings
(``BASE_AT_ITS_SETTINGS``), and the accelerator with its own tuned knobs on the tuned
baseline's settings (``ON_THE_TUNED_BASE``); matched on the records' content, never on a
label.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

BASE_AT_ITS_SETTINGS = "base at its settings"
ON_THE_TUNED_BASE = "on the tuned base"
CONTROL_KINDS = (BASE_AT_ITS_SETTINGS, ON_THE_TUNED_BASE)


def _signature(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def control_pairs(by_method: Mapping[str, list[dict]], baseline: str | None) -> dict[str, list[tuple[str, str]]]:
    """(accelerator, control) per control kind, matched on content: a tuned accelerator's
    "base at its settings" is the control record of that kind whose base optimizer runs
    at exactly the accelerator's base settings; its "on the tuned base" the control of
    that kind whose accelerators are exactly its own (names, presets, settings) and whose
    base runs at the baseline's settings of those the accelerator tunes (``_tuned_base``).
    Content, not a name, so one control serves every accelerator that drew the same base
    settings."""
    first = {m: rs[0] for m, rs in by_method.items() if rs}
    base_params = first[baseline].get("optimizer_params") if baseline in first else None
    out: dict[str, list[tuple[str, str]]] = {kind: [] for kind in CONTROL_KINDS}
    for m, r in first.items():
        if isinstance(r.get("control"), str) or not r.get("transforms") or not isinstance(r.get("tuned"), dict):
            continue
        for c, cr in first.items():
            if cr.get("control") == BASE_AT_ITS_SETTINGS and not cr.get("transforms") \
                    and cr.get("optimizer") == r.get("optimizer") \
                    and _signature(cr.get("optimizer_params")) == _signature(r.get("optimizer_params")):
                out[BASE_AT_ITS_SETTINGS].append((m, c))
            elif cr.get("control") == ON_THE_TUNED_BASE and cr.get("optimizer") == r.get("optimizer") \
                    and _signature(cr.get("transforms")) == _signature(r.get("transforms")) \
                    and _signature(cr.get("optimizer_params")) == _signature(_tuned_base(r, base_params)):
                out[ON_THE_TUNED_BASE].append((m, c))
    return out


def _tuned_base(accelerator: dict, base_params: Any) -> Any:
    """The base settings an "on the tuned base" control of ``accelerator`` runs at: the
    baseline's for each base setting the accelerator's tuning searched (its record's
    ``tuned.space``), its own for those it fixes (wnclip's and perpgrad's weight decay 0).
    Without a search space on record: the baseline's, all of them."""
    space = (accelerator.get("tuned") or {}).get("space") if isinstance(accelerator.get("tuned"), dict) else None
    own = accelerator.get("optimizer_params")
    if not isinstance(space, dict) or not isinstance(own, dict) or not isinstance(base_params, dict):
        return base_params
    prefix = f"{accelerator.get('optimizer')}."
    searched = {k[len(prefix):] for k in space if k.startswith(prefix)}
    return {k: (base_params.get(k) if k in searched else v) for k, v in own.items()}
