"""Where a leaderboard's numbers come from, for the page header: the study file that made
the results (or, for folders made before study files, the commands logged in runs.jsonl),
versions, git commit, machine, seeds and trial times."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .. import __version__


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The short commit of the git checkout at ``cwd`` (default: the working directory);
    None outside a checkout or without git."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def distinct_texts(values: Iterable[Any]) -> list[str]:
    """The distinct values as strings, in first-seen order, skipping None and NaN."""
    out: list[str] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if str(v) not in out:
            out.append(str(v))
    return out


def seed_text(seeds: list[int]) -> str:
    """Sorted seeds -> '0–9 (10 seeds)' for a run of more than two, else '0, 3 (2 seeds)'."""
    if not seeds:
        return "–"
    if len(seeds) > 2 and seeds[-1] - seeds[0] == len(seeds) - 1 and len(set(seeds)) == len(seeds):
        return f"{seeds[0]}–{seeds[-1]} ({len(seeds)} seeds)"
    return ", ".join(map(str, seeds)) + f" ({len(seeds)} seeds)"


def command_rows(runs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """runs.jsonl lines -> ('command N', '`grokbench run ...` (last time it ran)')."""
    commands = distinct_texts(r.get("command") for r in runs)
    if not commands:
        return [("command", "unknown (no runs.jsonl)")]
    rows = []
    for i, cmd in enumerate(commands):
        times = distinct_texts(r.get("time") for r in runs if r.get("command") == cmd)
        label = "command" if len(commands) == 1 else f"command {i + 1}"
        rows.append((label, f"`{cmd}` ({', '.join(times[-1:])})"))
    return rows


def environment_rows(frame) -> list[tuple[str, str]]:
    """torch, device, seeds and trial times of the records in ``frame`` (with
    grokbench.record.to_row); [] for an empty frame."""
    if not len(frame):
        return []
    devices = ", ".join(distinct_texts(frame["device_name"])) or "unknown"
    kinds, threads, hosts = (", ".join(distinct_texts(frame[c])) for c in ("device", "threads", "host"))
    rows = [
        ("torch", ", ".join(distinct_texts(frame["torch"])) or "unknown"),
        ("device", f"{devices} ({kinds}; {threads} threads; host {hosts})"),
        ("seeds", seed_text(sorted({int(s) for s in frame["seed"]}))),
    ]
    started, finished = distinct_texts(frame["started_at"]), distinct_texts(frame["finished_at"])
    if started and finished:
        rows.append(("trials", f"{len(frame)}, run {min(started)} to {max(finished)}"))
    return rows


def study_rows(studies: Sequence[Any], path: str) -> list[tuple[str, str]]:
    """One row per part of the folder's study file (``grokbench.study``): what it ran, its
    compare mode, its tuning source and controls."""
    rows = []
    for i, part in enumerate(studies):
        tasks = distinct_texts(t.label for t, _ in part.pairs)
        methods = distinct_texts(m.label for _, m in part.pairs)
        text = (f"`{path}` part {i + 1}: {len(tasks)} task(s) x {len(methods)} method label(s), "
                f"{part.plan.n_trials} trials; compare: {part.compare}")
        if part.tuned is not None:
            text += (f"; tuned from `{part.tuned.folder}` (K = {part.tuned.trials}, tuning seeds "
                     f"{seed_text(sorted(part.tuned.tune_seeds))}); controls: {'yes' if part.controls else 'no'}")
        rows.append(("study" if len(studies) == 1 else f"study part {i + 1}", text))
    return rows


NO_STUDY_NOTE = ("none in this folder (results made before study files): the commands below are as logged in "
                 "runs.jsonl, and the compare mode is read from them")


def provenance_rows(frame, runs: list[dict[str, Any]], commit: str | None, generated: str,
                    studies: Sequence[Any] | None = None, study_path: str = "study.toml") -> list[tuple[str, str]]:
    """The page header's (field, value) rows, values already markdown; pure. ``studies``:
    the parts of the folder's study file, named at ``study_path``; None: the folder has
    none, and the logged commands stand in for it."""
    versions = distinct_texts(frame.get("record_version", [])) if len(frame) else []
    written_by = f" (records written by {', '.join(versions)})" if versions else ""
    made = study_rows(studies, study_path) if studies is not None else [("study", NO_STUDY_NOTE), *command_rows(runs)]
    return [
        *made,
        ("grokbench", f"{__version__}{written_by}"),
        ("git commit", commit or "unknown"),
        *environment_rows(frame),
        *tuning_rows(frame),
        ("generated", generated),
    ]


def tuning_rows(frame) -> list[tuple[str, str]]:
    """Tuning budget, spaces and selected configurations of tuned records ([] if none)."""
    from ..tuning import provenance_rows as tuned_provenance

    if not len(frame) or "tuned" not in frame.columns:
        return []
    return tuned_provenance(r for r in frame.to_dict(orient="records") if isinstance(r.get("tuned"), dict))
