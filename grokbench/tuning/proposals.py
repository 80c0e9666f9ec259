"""Quasi-random proposals: K configurations of one method on one task, plus its own.

The K points are the first K of a scrambled Sobol sequence (scipy.stats.qmc.Sobol) over
the chain's search space, scrambled with a seed derived from (task label, method label):
the same command proposes the same configurations, on any machine. Each point becomes a
variant label (``sgd[lr=0.0123,weight_decay=0]``), resolved like any label written by
hand, so a tuning trial is the same trial as that variant run with ``grokbench run``.
Settings the method's own label already fixes (``adamw[weight_decay=0]``) are not tuned.

Configuration K is the method as labelled (its defaults on the task): every method gets
the same K + 1 configurations, and a tuned method is never worse on the tuning seeds than
its default, which a small K of random points alone does not promise.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from .. import seeding, variants
from ..spec import MethodSpec, Overrides, TaskSpec, resolve_method, written_settings
from .space import Axis, chain_space, describe_space

SEED_STREAM = "tune"


@dataclass(frozen=True)
class Proposal:
    """Configuration ``index`` of ``method`` on ``task``: its values ({"sgd.lr": 0.0123}),
    its resolved variant, and the space it was drawn from ({"sgd.lr": "log [0.001, 1]"})."""

    task: TaskSpec
    method: str
    index: int
    spec: MethodSpec
    values: dict[str, Any] = field(default_factory=dict)
    space: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.spec.label


def tuned_axes(method_label: str, task: TaskSpec, overrides: Overrides) -> list[Axis]:
    """The chain's search space less the settings its label already writes."""
    spec = resolve_method(method_label, task, overrides)
    fixed = written_settings(method_label, task)
    axes = chain_space([t.name for t in spec.transforms], spec.base)
    return [a for a in axes if (a.part, a.param) not in fixed]


def unit_points(n_points: int, dims: int, seed: int):
    """``n_points`` scrambled Sobol points in [0, 1)^dims (balance warnings for an n that is
    not a power of two are silenced: the prefix of the sequence is still low-discrepancy)."""
    from scipy.stats import qmc

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return qmc.Sobol(d=dims, scramble=True, seed=seed).random(n_points)


def propose(method_label: str, task: TaskSpec, overrides: Overrides, trials: int) -> list[Proposal]:
    """``trials`` quasi-random configurations of ``method_label`` on ``task``, then the
    method as labelled (index ``trials``); only the latter when nothing is tunable."""
    plain = resolve_method(method_label, task, overrides)
    axes = tuned_axes(method_label, task, overrides)
    if not axes:
        return [Proposal(task, plain.label, 0, plain)]
    seed = seeding.derive_seed(seeding.BENCHMARK, SEED_STREAM, task.label, plain.label)
    out = []
    for index, point in enumerate(unit_points(trials, len(axes), seed)):
        values = {axis.name: axis.dimension.value(float(u)) for axis, u in zip(axes, point)}
        text = variant_text(plain, axes, list(values.values()))
        out.append(Proposal(task, plain.label, index, resolve_method(text, task, overrides), values,
                            describe_space(axes)))
    own = {axis.name: axis_value(plain, axis) for axis in axes}
    return [*out, Proposal(task, plain.label, trials, plain, own, describe_space(axes))]


def axis_value(spec: MethodSpec, axis: Axis) -> Any:
    """The value ``spec`` resolved for ``axis`` (its part's parameter, or its base's)."""
    part = spec.optimizer if axis.part is None else spec.transforms[axis.part]
    return part.params.get(axis.param)


def variant_text(plain: MethodSpec, axes: list[Axis], values: list[Any]) -> str:
    """``plain``'s label with each axis's value added to the bracket of the part it belongs
    to; a base setting goes on the written base, else as ``BASE.param`` on the first
    accelerator."""
    parsed = variants.parse_label(plain.label)
    parts = list(parsed.parts)
    base_alone = parsed.base is None and not plain.transforms
    base = parsed.base
    for axis, value in zip(axes, values):
        setting = (axis.param, (variants.format_value(value),))
        if axis.part is not None:
            parts[axis.part] = _with(parts[axis.part], setting)
        elif base is not None:
            base = _with(base, setting)
        elif base_alone:
            parts[0] = _with(parts[0], setting)
        else:
            parts[0] = _with(parts[0], (f"{axis.owner}.{axis.param}", setting[1]))
    return variants.Label(tuple(parts), base).text()


def _with(part: variants.Part, setting: tuple[str, tuple[Any, ...]]) -> variants.Part:
    return variants.Part(part.name, (*part.settings, setting))
