"""A claim's results folders -> its ClaimResult (no training, nothing written)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from ..environment import device_label
from ..plan import build_plan, parse_seeds
from ..spec import parse_overrides
from ..store import load_frame
from .claims import Claim
from .runner import ExperimentRun, manifest_runs, read_manifest
from .verdict import ClaimResult, Measure, judge, measure


def _method_rows(frame: pd.DataFrame, run: ExperimentRun, method: str) -> pd.DataFrame:
    """The rows of one method's trials in ``run``'s folder: its label and the run's seeds.
    Matched by label, not by resume key, so that records made under an earlier protocol
    (other default settings, so other keys) are still judged, by the rule on the page and
    with the metrics their own settings define; a folder holds one configuration per label."""
    plan = build_plan(run.task, method, run.seeds, parse_overrides(list(run.overrides)))
    labels = {spec.label for _, spec in plan.pairs}
    return frame[frame["method"].isin(labels) & frame["seed"].isin(parse_seeds(run.seeds))]


def experiment_measures(claim: Claim, run: ExperimentRun, root: Path) -> tuple[dict[str, Measure | None], str]:
    """Per method of ``run``: its Measure from the records in the experiment's folder; and
    where those records trained (``hardware_line``)."""
    folder = run.folder(root)
    frame = load_frame(folder, with_curves=True) if folder.exists() else None
    out: dict[str, Measure | None] = {}
    used = []
    for method in run.methods:
        if frame is None or frame.empty:
            out[method] = None
            continue
        rows = _method_rows(frame, run, method)
        used.append(rows)
        out[method] = measure(rows, claim.metric, claim.unit, f"{claim.name}/{run.experiment}/{method}")
    return out, hardware_line(pd.concat(used) if used else None)


def hardware_line(rows: pd.DataFrame | None) -> str:
    """'2 trials on cpu (AMD EPYC); 2 resumed from checkpoints: at step 54,000 (trained on
    cuda (NVIDIA H200) until then)', from record rows; '' for none."""
    if rows is None or rows.empty:
        return ""
    devices = Counter(device_label({"device": r.device, "device_name": r.device_name}) for r in rows.itertuples())
    parts = ["; ".join(f"{n} trial{'s' * (n > 1)} on {d}" for d, n in sorted(devices.items()))]
    resumed = Counter(filter(None, map(_resumption, rows.itertuples())))
    parts += [f"{n} resumed from checkpoints: {how}" for how, n in sorted(resumed.items())]
    return "; ".join(parts)


def _resumption(row) -> str:
    steps = getattr(row, "resumed_at_steps", None)
    if not isinstance(steps, list) or not steps:
        return ""
    devices = getattr(row, "resumed_devices", None)
    devices = devices if isinstance(devices, list) and len(devices) == len(steps) else [None] * len(steps)
    return ", ".join(f"at step {s:,} (trained on {d or 'a device not recorded'} until then)"
                     for s, d in zip(steps, devices))


def collect(claim: Claim, root: Path) -> tuple[ClaimResult, dict | None]:
    """The claim judged on what ``root`` holds, and its manifest (None: never run there)."""
    manifest = read_manifest(root, claim.name)
    if manifest is None:
        return judge(claim, {}, []), None
    measured = {run.experiment: experiment_measures(claim, run, root) for run in manifest_runs(manifest)}
    measures = {exp: got for exp, (got, _) in measured.items()}
    skipped = list(manifest.get("skipped", []))
    _add_unrun(claim, manifest, measures, skipped)
    result = judge(claim, measures, skipped)
    result.hardware = {exp: line for exp, (_, line) in measured.items() if line}
    return result, manifest


def _add_unrun(claim: Claim, manifest: dict, measures: dict[str, dict[str, Measure | None]],
               skipped: list[str]) -> None:
    """Experiments the claim has but its last run did not know (the claim file grew since):
    skipped where the run's budget skips them, else present with no records, so that the
    claim cannot be judged reproduced without them."""
    budgets = {e.get("budget") for e in manifest.get("experiments", {}).values()}
    budget = budgets.pop() if len(budgets) == 1 else None
    for exp in claim.experiments:
        if exp.id in measures or exp.id in skipped:
            continue
        if budget is not None and exp.budget(budget) is None:
            skipped.append(exp.id)
        else:
            measures[exp.id] = {e.method: None for e in exp.methods}
