"""A tuned run's controls: ``grokbench run --tuned DIR`` (unless its study sets ``controls = false``).

For each tuned accelerator (a method with accelerators, not a base optimizer alone) on
each task, two ordinary method labels join the plan:

- "base at its settings": the accelerator's base optimizer alone at exactly the base
  settings of the accelerator's selected configuration (``adamw[lr=0.014,weight_decay=2.75]``
  for a tuned ``egd[lr=0.014,rank_rtol=0.3,weight_decay=2.75]``): what the accelerator adds
  to the settings it drew. Every base setting it tunes is written, so the label never
  reads as the plain (tuned) baseline's.
- "on the tuned base": the accelerator with its own selected knobs on the tuned baseline's
  base settings (those it tunes; settings the accelerator fixes stay fixed). Only where
  the accelerator runs on the task's base optimizer and DIR tuned that baseline.

Each is labelled by its configuration (any later reader can run it by hand) and carries
its role in its identity (``control``: the kind, ``stats.CONTROL_KINDS``); the page
matches a control to its accelerator by content (``stats.control_pairs``), so one record
serves every accelerator that drew the same base settings.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from .. import variants
from ..errors import UserError
from ..plan import Plan
from ..spec import MethodSpec, Overrides, TaskSpec, resolve_method
from ..stats import BASE_AT_ITS_SETTINGS, ON_THE_TUNED_BASE
from .proposals import tuned_axes, variant_text


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def base_at_its_settings(method: MethodSpec, task: TaskSpec, overrides: Overrides) -> MethodSpec:
    """The base optimizer of tuned ``method`` alone at ``method``'s resolved base settings."""
    plain = resolve_method(method.base, task, overrides)
    tuned = {a.param for a in tuned_axes(method.base, task, overrides)}
    params = method.optimizer.params
    written = tuple(sorted((p, (variants.format_value(v),)) for p, v in params.items()
                           if p in tuned or not _same(v, plain.optimizer.params.get(p))))
    spec = resolve_method(variants.Part(method.base, written).text(), task, overrides)
    if not _same(spec.optimizer.params, params):
        raise UserError(f"{task.label} / {method.label}: its base settings do not resolve back as a label "
                        f"({spec.label}); run without controls (controls = false in a study file, docs/study.md)")
    return replace(spec, control=BASE_AT_ITS_SETTINGS)


def on_the_tuned_base(method: MethodSpec, baseline: MethodSpec, task: TaskSpec,
                      overrides: Overrides) -> MethodSpec | None:
    """``method``'s selected own knobs on ``baseline``'s settings of the base settings it
    tunes; None when it runs on another base optimizer than the baseline's."""
    if method.base != baseline.optimizer.name:
        return None
    untuned = variants.strip_settings(method.tuned["config"]) if method.tuned else method.label
    axes = tuned_axes(untuned, task, overrides)
    values = [baseline.optimizer.params[a.param] if a.part is None else method.transforms[a.part].params[a.param]
              for a in axes]
    plain = resolve_method(untuned, task, overrides)
    return replace(resolve_method(variant_text(plain, axes, values), task, overrides), control=ON_THE_TUNED_BASE)


def add_controls(plan: Plan, overrides: Overrides) -> Plan:
    """``plan`` (already tuned: ``tuned.apply_tuned``) with the controls of every tuned
    accelerator appended, each (task, label) once."""
    pairs = list(plan.pairs)
    baselines = {(t.label, m.label): m for t, m in plan.pairs if not m.transforms}
    for task, method in plan.pairs:
        if not method.transforms or not method.tuned:
            continue
        pairs.append((task, base_at_its_settings(method, task, overrides)))
        baseline = baselines.get((task.label, method.baseline))
        control = on_the_tuned_base(method, baseline, task, overrides) if baseline and baseline.tuned else None
        if control is not None:
            pairs.append((task, control))
    seen: dict[tuple[str, str], Any] = {}
    for task, method in pairs:
        seen.setdefault((task.label, method.label), (task, method))
    return replace(plan, pairs=tuple(seen.values()))
