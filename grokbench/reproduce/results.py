"""A claim's results folders -> its ClaimResult (no training, nothing written)."""

from __future__ import annotations

from pathlib import Path

from ..plan import Cell, build_plan, parse_seeds
from ..spec import parse_overrides
from ..store import load_frame
from .claims import Claim
from .runner import ExperimentRun, manifest_runs, read_manifest
from .verdict import ClaimResult, Measure, judge, measure


def _method_keys(run: ExperimentRun, method: str) -> set[str]:
    """Resume keys of one method's trials in ``run`` (the identity does not depend on the device)."""
    plan = build_plan(run.task, method, run.seeds, parse_overrides(list(run.overrides)))
    return {Cell(task, spec, ()).key(seed) for task, spec in plan.pairs for seed in parse_seeds(run.seeds)}


def experiment_measures(claim: Claim, run: ExperimentRun, root: Path) -> dict[str, Measure | None]:
    """Per method of ``run``: its Measure from the records in the experiment's folder."""
    folder = run.folder(root)
    frame = load_frame(folder, with_curves=True) if folder.exists() else None
    out: dict[str, Measure | None] = {}
    for method in run.methods:
        if frame is None or frame.empty:
            out[method] = None
            continue
        rows = frame[frame["key"].isin(_method_keys(run, method))]
        out[method] = measure(rows, claim.metric, claim.unit, f"{claim.name}/{run.experiment}/{method}")
    return out


def collect(claim: Claim, root: Path) -> tuple[ClaimResult, dict | None]:
    """The claim judged on what ``root`` holds, and its manifest (None: never run there)."""
    manifest = read_manifest(root, claim.name)
    if manifest is None:
        return judge(claim, {}, []), None
    measures = {run.experiment: experiment_measures(claim, run, root) for run in manifest_runs(manifest)}
    return judge(claim, measures, list(manifest.get("skipped", []))), manifest
