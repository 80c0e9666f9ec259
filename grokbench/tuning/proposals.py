"""Quasi-random proposals: K configurations of one method on one task, plus its own.

Shared draws (common random numbers): every method on a task draws from one scrambled
Sobol sequence (scipy.stats.qmc.Sobol, ``DIMENSIONS`` coordinates, scrambled with a seed
derived from the task label), and configuration i of every method is point i of it. The
base optimizer's settings take the coordinates of their names in ``SHARED_SETTINGS``
(``lr`` is coordinate 0 for SGD, AdamW and every accelerator's base alike); a method's
own knobs (and a base setting not listed there) take the further coordinates, in chain
order. So methods differ in their settings, never in the luck of their draws: where two
methods share a setting and its range, configuration i gives them the same value. The
same command proposes the same configurations, on any machine. Each point becomes a
variant label (``sgd[lr=0.0123,weight_decay=0]``), resolved like any label written by
hand, so a tuning trial is the same trial as that variant run with ``grokbench run``.
Settings the method's own label already fixes (``adamw[weight_decay=0]``) are not tuned.

Configuration K is the method as labelled (its defaults on the task): every method gets
the same K + 1 configurations, and a tuned method is never worse on the tuning seeds than
its default, which a small K of random points alone does not promise.

Another range (``--set sgd.lr=1e-4..10``: ``Ranges``). Configurations 0..K-1 stay the
points of the declared ranges, those that lie inside the new ones: the same labels, so a
study that widens a range resumes with every record it has. The new part of the space gets
points at the same density: the first M = round(K x V) points of the sequence drawn over
the new ranges, where V is the new volume over the declared one (each range's length on
its scale, log for a log range), keep those outside the declared ranges, as configurations
K + 1 + i (i: the point's place in that sequence). A range narrowed keeps the declared
points inside it and adds none.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

from .. import registry, seeding, variants
from ..errors import UserError
from ..spec import MethodSpec, Overrides, TaskSpec, resolve_method, written_settings
from .space import (
    Axis,
    Dimension,
    chain_space,
    declared_space,
    describe_space,
    inside,
    parse_range,
    width,
    with_range,
)

SEED_STREAM = "tune"
SHARED_SETTINGS = ("lr", "weight_decay", "momentum")  # base-optimizer settings, by name: coordinates 0, 1, 2
DIMENSIONS = 16  # coordinates of the task's sequence: the shared ones, then a method's own knobs
Ranges = dict[str, tuple[float, float]]  # axis name ("sgd.lr") -> the (lo, hi) a study searches it over


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
    dimensions: dict[str, Dimension] = field(default_factory=dict)

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


def coordinates(axes: list[Axis]) -> list[int]:
    """The coordinate of the task's sequence each axis reads: a base-optimizer setting named
    in ``SHARED_SETTINGS`` its place there; every other axis the next free one, in order."""
    own = iter(range(len(SHARED_SETTINGS), DIMENSIONS))
    out = []
    for axis in axes:
        shared = axis.part is None and axis.param in SHARED_SETTINGS
        coordinate = SHARED_SETTINGS.index(axis.param) if shared else next(own, None)
        if coordinate is None:
            names = ", ".join(a.name for a in axes)
            raise UserError(f"{len(axes)} settings to tune ({names}) need more than the {DIMENSIONS} coordinates "
                            f"of a tuning sequence; fix some of them in the method's label")
        out.append(coordinate)
    return out


def task_points(task: TaskSpec, trials: int):
    """The first ``trials`` points of ``task``'s sequence, shared by every method on it."""
    return unit_points(trials, DIMENSIONS, seeding.derive_seed(seeding.BENCHMARK, SEED_STREAM, task.label))


def split_ranges(overrides: Overrides) -> tuple[Overrides, Ranges]:
    """``--set METHOD.PARAM=LO..HI`` entries taken out of ``overrides``: (the other
    overrides, the search ranges by axis name). A range for a setting its method does not
    search is a UserError."""
    plain: Overrides = {}
    ranges: Ranges = {}
    methods = registry.methods()
    for name, params in overrides.items():
        for param, value in params.items():
            bounds = parse_range(value) if name in methods else None
            if bounds is None:
                plain.setdefault(name, {})[param] = value
                continue
            space = declared_space(name)
            if param not in space:
                searched = ", ".join(space) or "nothing"
                raise UserError(f"--set {name}.{param}={value}: {name} searches no {param} (it searches {searched})")
            ranges[f"{name}.{param}"] = bounds
    return plain, ranges


def _widened(axes: list[Axis], ranges: Ranges) -> list[Axis]:
    return [replace(a, dimension=with_range(a.dimension, *ranges[a.name], a.name)) if a.name in ranges else a
            for a in axes]


def _volume_ratio(declared: list[Axis], searched: list[Axis]) -> float:
    """The searched space's volume over the declared one (each range's length on its scale)."""
    ratio = 1.0
    for d, s in zip(declared, searched):
        if width(d.dimension) > 0 and s.dimension != d.dimension:
            ratio *= width(s.dimension) / width(d.dimension)
    return ratio


def propose(method_label: str, task: TaskSpec, overrides: Overrides, trials: int,
            ranges: Ranges | None = None) -> list[Proposal]:
    """``trials`` quasi-random configurations of ``method_label`` on ``task`` (configuration
    i at point i of the task's shared sequence), then the method as labelled (index
    ``trials``); only the latter when nothing is tunable. ``ranges``: other ranges for some
    settings (see the module docstring: the declared points inside them, then the points
    that cover what they add, from index ``trials`` + 1)."""
    plain = resolve_method(method_label, task, overrides)
    axes = tuned_axes(method_label, task, overrides)
    if not axes:
        return [Proposal(task, plain.label, 0, plain)]
    searched = _widened(axes, ranges or {})
    columns = coordinates(axes)
    space, dimensions = describe_space(searched), {axis.name: axis.dimension for axis in searched}

    def proposal(index: int, point: Any, over: list[Axis]) -> Proposal:
        values = {axis.name: axis.dimension.value(float(point[c])) for axis, c in zip(over, columns)}
        text = variant_text(plain, axes, list(values.values()))
        return Proposal(task, plain.label, index, resolve_method(text, task, overrides), values, space, dimensions)

    def within(p: Proposal, over: list[Axis]) -> bool:
        return all(inside(a.dimension, p.values[a.name]) for a in over)

    drawn = [proposal(i, point, axes) for i, point in enumerate(task_points(task, trials))]
    own = {axis.name: axis_value(plain, axis) for axis in axes}
    out = [*[p for p in drawn if within(p, searched)], Proposal(task, plain.label, trials, plain, own, space,
                                                                dimensions)]
    if searched != axes:
        more = round(trials * _volume_ratio(axes, searched))
        wide = [proposal(trials + 1 + i, point, searched) for i, point in enumerate(task_points(task, more))]
        out += [p for p in wide if not within(p, axes)]
    return out


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
