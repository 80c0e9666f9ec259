"""Analysis -> the leaderboard page as one markdown string (pure: no files, no clock
unless no time stamp is given, no git; the caller writes the page and its figures)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import stats as st
from ..errors import UserError
from ..store import Store
from ..study import STUDY_FILE
from .figures import TaskFigures
from .links import link_cells
from .overview import OverviewFigures
from .provenance import distinct_texts, provenance_rows
from .rows import (
    budget_epochs,
    control_rows,
    heatmap_rows,
    main_rows,
    method_order,
    pair_rows,
    profile_rows,
    stack_rows,
    threshold_rows,
    walltime_rows,
)
from .runtime import folder_intervals, logged_intervals, run_time_row
from .settings import accelerator_settings_rows, preset_lines
from .summary import disagreements, findings
from .tuning_figures import TuningCurveFigure

METRIC_LINES = (
    "**Steps to target**: the time to stable generalization: the first evaluation with test accuracy >= the "
    "task's target after which it stays at or above the hold level (target - `hold_band`) through a watched "
    "window of max(`sustain_evals`, `sustain_frac` x steps so far) evaluations (docs/stability.md; records made "
    "before the window keep their rule: the target held for `sustain_evals` more evaluations); a run that never "
    "gets there (unsolved, or diverged) is censored at its "
    "budget and counts as slower than every solved run, so medians are censoring-aware (\"> budget\" unless more "
    "than half the seeds solved). Steps to 0.90 and 0.95 are first crossings. \"Crossed, fell back\": trials that "
    "reached the target and fell below its hold level before (or instead of) a stable solve; \"collapsed after "
    "window\": solved trials that fell below it in the tail watched after the window. **Plateau** = steps to target - "
    "first step with train accuracy >= 0.99; **seconds** are training time only (evaluation excluded).",
    "**Tests**: each method against the task's baseline (its base optimizer alone) over the same seeds, which "
    "are paired (same data, initialization and data order). The verdict is the paired sign test (seeds on which "
    "the method reached the threshold first / later / tied; a trial that never reached it loses to one that did), "
    "Bonferroni-adjusted in a family of fixed size (16 comparisons, or as many as the family holds when more: a "
    "verdict never depends on which other methods share the page), at 0.05, separately at 0.90, 0.95 and the "
    "target; \"robust\" = "
    "the same significant verdict at all three. Log-rank (steps) and Fisher (solve rates) are shown alongside, "
    "each adjusted in its own family. Every comparison, with its raw and adjusted p and its family, is in "
    "comparisons.csv beside this page. The wall-time verdict is the same sign test on training seconds. "
    "Diverged runs are censored at the budget, timed-out runs where they stopped; records with status error are "
    "excluded from all statistics and counted.",
    "**Intervals**: a median's 95% interval is the exact, distribution-free order-statistic interval "
    "([x(2), x(9)] for 10 seeds); where its ends coincide the page says how many seeds are identical. A speedup "
    "(baseline median / method median) has a seeded bootstrap interval over paired seeds. Intervals are **per "
    "comparison and not adjusted for multiplicity** (the verdicts are): a CI that excludes 1 next "
    "to a non-significant verdict is no contradiction. An end written \"< x\" or \"> x\" is a bound: in some "
    "resamples a median was censored, and only one side of that end is known.",
)
PROFILES_TEXT = (
    "**Performance profiles** (Dolan and Moré): for each method, the fraction of the tasks it ran on where its "
    "median steps (or training seconds) to target is within a factor tau of the fastest method's median there, "
    "tau from 1 to 4; a median that was not reached (\"> budget\") never counts. The score is the area under the "
    "profile up to tau = 4 divided by 3 (1 = the fastest on every task). A task a method did not run on counts "
    "neither for nor against it; a task where no method's median reached the target is left out. A tuned "
    "accelerator's controls are no competitors here, nor in the summary or the heat map (their own table "
    "and cell pages show them)."
)
HEATMAP_TEXT = ("Speedup in steps to target against each task's own baseline (baseline median / method median; "
                "▲/▼ = significantly faster/slower, sign test, adjusted). \"not run\": no records of that method "
                "on that task.")
THRESHOLDS_TEXT = ("Median epochs to 0.90 and 0.95 (first crossings) and to the target (sustained), and the "
                   "verdict against the baseline at each (its own family). \"flips\": faster at one "
                   "threshold, slower at another; \"depends on threshold\": significant at some only.")
STACKS_TEXT = ("Each stack against each of its parts alone, paired by seed (sign test, adjusted in "
               "their own family). A speedup > 1 means the stack reaches the target sooner than the part.")
PAIRS_TEXT = ("The named methods against each other (asked for with `--compare all-pairs`), paired by seed "
              "(sign test, adjusted in their own family). A speedup > 1 means the first method is faster.")
CONTROLS_TEXT = ("Each tuned accelerator against its two controls, paired by seed (sign test, adjusted in a family "
                 "per control): **base at its settings** is the base optimizer alone at the base settings the "
                 "accelerator's tuning drew (what the accelerator adds to them); **on the tuned base** is the "
                 "accelerator with its own tuned knobs on the tuned baseline's settings, also compared with the "
                 "tuned baseline. A speedup > 1 means the accelerator (last column: the control) is faster. The "
                 "summary calls an accelerator faster only where it is faster than the tuned baseline, than the "
                 "base at its settings, and on the tuned base than the tuned baseline.")
WALLTIME_TEXT = ("Do epoch savings survive the per-step cost? Epoch speedup next to wall-time speedup "
                 "(training seconds to target, baseline / method); \"yes\"/\"no\" when the wall-time CI lies "
                 "above/below 1, \"(CI spans 1)\" for the side of the point estimate alone. Wall-time "
                 "verdicts, speedups and profiles use *calibrated* seconds (steps to target x the "
                 "configuration's step cost, measured interleaved with the other methods by `grokbench "
                 "calibrate`) wherever every trial of a method has one, else the seconds measured in the "
                 "training loop; \"wall time from\" says which, and \"measured s to target\" is always "
                 "the in-loop figure.")


def md_table(rows: list[dict[str, str]], right: Sequence[str] = ()) -> str:
    """Rows (dicts with the same keys) -> a markdown table; columns in ``right`` are
    right-aligned. No rows -> '_(none)_'."""
    if not rows:
        return "_(none)_\n"
    cols = list(rows[0])

    def cell(x: str) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---:" if c in right else "---" for c in cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(cell(r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def anchor(label: str) -> str:
    """The heading anchor a git host gives '## label'."""
    a = label.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def display_path(path: Path) -> str:
    """``path`` relative to the working directory, absolute when that climbs two levels up."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("../..") else str(path)


def render_markdown(frame, analysis: Mapping[str, st.TaskStats], runs: list[dict[str, Any]], *,
                    results_dir: Path, outdir: Path, commit: str | None = None,
                    generated: str | None = None,
                    figures: Mapping[str, TaskFigures] | None = None,
                    overview: OverviewFigures | None = None,
                    defaults: DefaultsPart | None = None,
                    cell_links: Mapping[str, Mapping[str, str]] | None = None,
                    studies: Sequence[Any] | None = None,
                    tuning_curves: Mapping[str, TuningCurveFigure] | None = None,
                    notes: PageNotes | None = None) -> str:
    """The leaderboard page for ``analysis`` (= grokbench.stats.analyze(frame)).

    ``frame``: the results folder's records (grokbench.store.load_frame columns plus
    grokbench.record.to_row); ``runs``: its runs.jsonl lines; ``results_dir`` and
    ``outdir`` only name the regenerate command; ``commit``: the git commit to state;
    ``generated``: the time stamp (default: now, UTC); ``figures``: per task label what
    figures.write_figures wrote (None or a missing label: no figures referenced);
    ``overview``: what overview.write_overview wrote (None: no figures across tasks);
    ``defaults``: a second folder, of every method at its default settings, whose summary
    and main tables follow the page's own (a tuned page's untuned counterpart);
    ``cell_links``: per task label and method the per-cell page that the numbers of its
    main-table row link to (links.cell_names; None: no links); ``studies``:
    the parts of the folder's study.toml (``grokbench.study``), None when it has none (the
    header then shows the logged commands, with a note);
    ``tuning_curves``: per task label what tuning_figures.write_tuning_curves wrote (a
    tuned page's tuning curves; None: no section); ``notes``: the results folder's own
    notes (its NOTES.md; None: no section)."""
    generated = generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    regen = _regenerate_command(results_dir, outdir, defaults, studies is not None)
    out = ["# grokbench leaderboard", "",
           f"Generated {generated} from the results in `{display_path(results_dir)}`. "
           f"Regenerate with `{regen}`; no number here is edited by hand.", ""]
    if defaults is not None:
        out += [TUNED_INTRO if _any_tuned(frame) else DEFAULTS_INTRO, ""]
    if (outdir / "REPRODUCTIONS.md").is_file():
        out += ["Each paper's headline in its own setting, the published number next to ours: "
                "[REPRODUCTIONS.md](REPRODUCTIONS.md).", ""]
    if notes is not None:
        out += ["## Notes", "", f"From `{display_path(notes.path)}`, the results folder's own notes.", "",
                notes.text.strip(), ""]
    if analysis:
        out += ["## Summary", "", *[f"- {line}" for line in findings(analysis)], ""]
        out += _across_tasks(analysis, overview)
    out += ["## How to read this page", "", *[f"{line}  " for line in METRIC_LINES], ""]
    out += _provenance(frame, runs, commit, generated, results_dir,
                       defaults.results_dir if defaults is not None else None, studies)
    if not analysis:
        out.append("_No records in this results folder._")
        return "\n".join(out) + "\n"
    out += ["Tasks: " + ", ".join(f"[{t}](#{anchor(t)})" for t in analysis), ""]
    dframe = st.disambiguate(frame) if len(frame) else frame
    timing = _timing(frame, results_dir)
    for label, ts in analysis.items():
        targets = distinct_texts(dframe[dframe["task_label"] == label].get("target", []))
        out += _task_section(label, ts, targets, (figures or {}).get(label), timing.get(label),
                             (cell_links or {}).get(label))
    out += _tuning_curve_section(frame, tuning_curves or {})
    if defaults is not None:
        out += _defaults_section(defaults, analysis)
    return "\n".join(out) + "\n"


def _regenerate_command(results_dir: Path, outdir: Path, defaults: DefaultsPart | None,
                        has_study: bool) -> str:
    """The commands that remake the page, as inline code joined by "`, then `": rerun each
    folder's study file where it has one, then ``grokbench leaderboard``."""
    regen = f"grokbench leaderboard {display_path(results_dir)} -o {display_path(outdir)}"
    if defaults is not None:
        regen += f" --defaults {display_path(defaults.results_dir)}"
        if (defaults.results_dir / STUDY_FILE).is_file():
            regen = f"grokbench run {display_path(defaults.results_dir / STUDY_FILE)}`, then `{regen}"
    if has_study:
        regen = f"grokbench run {display_path(results_dir / STUDY_FILE)}`, then `{regen}"
    return regen


NOTES_FILE = "NOTES.md"  # in a results folder: its own notes, shown on its page


@dataclass(frozen=True)
class PageNotes:
    """A results folder's own notes: its NOTES.md's path and text."""

    path: Path
    text: str


def read_folder_notes(results_dir: str | Path) -> PageNotes | None:
    """``DIR/NOTES.md`` -> PageNotes; None when the folder has none; unreadable, not UTF-8
    or empty: a UserError."""
    path = Path(results_dir) / NOTES_FILE
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the notes file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not text.strip():
        raise UserError(f"the notes file {path} is empty")
    return PageNotes(path, text)


@dataclass(frozen=True)
class DefaultsPart:
    """The default-settings folder of a tuned page: its analysis, and where its own full page
    (every table and figure) was written, relative to the tuned page's folder."""

    results_dir: Path
    analysis: Mapping[str, st.TaskStats]
    page: str
    cell_links: Mapping[str, Mapping[str, str]] | None = None  # its cell pages, relative to the tuned page


TUNED_INTRO = ("Every method here runs at the configuration a tuning study selected for it on seeds that "
               "are never reported, with the same budget for every method of a task, the baseline included "
               "(budget, search spaces and the selected settings: [Provenance](#provenance)). The same "
               "methods at their default settings follow in [Default settings](#default-settings).")
DEFAULTS_INTRO = "The same methods at their default settings follow in [Default settings](#default-settings)."


def _any_tuned(frame) -> bool:
    return "tuned" in getattr(frame, "columns", ()) and any(isinstance(t, dict) for t in frame["tuned"])


def _defaults_section(part: DefaultsPart, analysis: Mapping[str, st.TaskStats]) -> list[str]:
    """The second section: the default-settings folder's summary and main tables, and the
    verdicts that differ from the page's own."""
    out = ["## Default settings", "",
           f"Every method at its default settings (no tuning), from `{display_path(part.results_dir)}`; "
           f"its full page, with every table and figure: [{part.page}]({part.page}).", ""]
    if not part.analysis:
        return out + ["_No records in that folder._", ""]
    changed = disagreements(part.analysis, analysis)
    out += ["### Summary at default settings", "", *[f"- {line}" for line in findings(part.analysis)], "",
            f"Verdicts against the baseline that differ from those above: {len(changed) or 'none'}.", "",
            *[f"- {line}" for line in changed], *([""] if changed else [])]
    for label, ts in part.analysis.items():
        links = (part.cell_links or {}).get(label)
        out += [f"### {label} at default settings", "", _task_facts(ts, []), "", md_table(link_cells(main_rows(ts), links))]
    return out


def _provenance(frame, runs: list[dict[str, Any]], commit: str | None, generated: str,
                results_dir: Path, defaults_dir: Path | None = None,
                studies: Sequence[Any] | None = None) -> list[str]:
    """The provenance table, and the tuned configurations' table when records were tuned."""
    from ..tuning import selected_rows

    out = ["## Provenance", "", "| provenance | |", "|---|---|"]
    study_path = display_path(results_dir / STUDY_FILE)
    rows = provenance_rows(frame, runs, commit, generated, studies, study_path)
    extra = [*_tuning_command_rows(frame), *_calibration_rows(results_dir),
             *_run_time_rows(frame, runs, results_dir, defaults_dir)]
    out += [f"| {field} | {value} |" for field, value in [*rows[:-1], *extra, rows[-1]]]
    settings = accelerator_settings_rows(frame)
    if settings:
        out += ["", "### Accelerator settings", "", "Each accelerator label's variant as its records ran it.", "",
                md_table(settings)]
        presets = preset_lines(frame)
        if presets:
            out += ["", "The presets these labels ran (`grokbench list` describes every preset):", "", *presets]
    selected = selected_rows(frame.to_dict(orient="records")) if "tuned" in getattr(frame, "columns", ()) else []
    if selected:
        out += ["", "### Tuned configurations", "",
                "The configuration each (task, method) runs at, and which of the tried ones it is.", "",
                md_table(selected)]
    return out + [""]


TUNING_CURVE_TEXT = (
    "Does the selection still move at K? For each tuned method, the median steps to target of the "
    "configuration its study's rule would choose from the defaults and the first k of its K draws, over "
    "random orders of the draws (band: 10th-90th percentile). A curve still falling at K says more draws "
    "would likely find better settings. The same numbers, and every configuration tried, are in each "
    "tuning folder's tuning.md.")


def _tuning_curve_section(frame, figures: Mapping[str, TuningCurveFigure]) -> list[str]:
    """The tuning curves of a tuned page, one figure per task (none: no section)."""
    if not figures:
        return []
    out = ["## Tuning curves", "", TUNING_CURVE_TEXT, ""]
    out += [f"- tuning folder `{folder}`: its tables in `{Path(folder, 'tuning.md')}`"
            for folder in _tuning_folders(frame)] + [""]
    for label, figure in figures.items():
        out += [f"### {label}: tuning curve", ""]
        out += [f"![{label}: tuning curve]({figure.path})" if figure.error is None
                else f"_figure failed: {figure.error}_", ""]
    return out


def _tuning_folders(frame) -> list[str]:
    """The tuning folders the page's tuned records came from, as their records name them."""
    return distinct_texts(f for f in frame.get("tuned_from", []) if isinstance(f, str)) if len(frame) else []


def _tuning_command_rows(frame) -> list[tuple[str, str]]:
    """The commands (from each tuning folder's runs.jsonl) that made the tuning studies the
    tuned records came from; a folder that is not there adds nothing."""
    commands = [cmd for folder in _tuning_folders(frame) if Path(folder, "runs.jsonl").is_file()
                for cmd in distinct_texts(r.get("command") for r in Store(folder).runs())]
    return [("tuning command" if len(commands) == 1 else f"tuning command {i + 1}", f"`{cmd}`")
            for i, cmd in enumerate(commands)]


def _run_time_rows(frame, runs: list[dict[str, Any]], results_dir: Path,
                   defaults_dir: Path | None) -> list[tuple[str, str]]:
    """How long the report runs (from the page's own records and runs), their tuning
    folders and the default-settings folder took."""
    finishes = frame["finished_at"] if len(frame) else []
    tuning = _tuning_folders(frame)
    parts = [("report runs", display_path(results_dir), logged_intervals(runs, finishes))]
    parts += [("tuning", folder, folder_intervals(folder)) for folder in tuning]
    if defaults_dir is not None:
        parts.append(("default settings", display_path(defaults_dir), folder_intervals(defaults_dir)))
    row = run_time_row(parts)
    return [row] if row else []


def _calibration_rows(results_dir: Path) -> list[tuple[str, str]]:
    """Where the calibrated step costs came from (none: no row)."""
    from ..calibrate import read_calibration

    data = read_calibration(results_dir)
    if not data:
        return []
    return [("step costs", f"`grokbench calibrate {display_path(results_dir)}` ({data.get('mode')}, "
                           f"{data.get('threads')} thread(s), {len(data.get('costs') or [])} configurations, "
                           f"{float(data.get('duration_s') or 0):.0f} s, load {data.get('load1_before')} -> "
                           f"{data.get('load1_after')}, {data.get('created_at')})")]


def _across_tasks(analysis: Mapping[str, st.TaskStats], overview: OverviewFigures | None) -> list[str]:
    """Performance profiles (figure and scores) and the speedup heat map (figure and table)."""
    steps, left_out = st.performance_profiles(analysis, "steps")
    seconds, _ = st.performance_profiles(analysis, "seconds")
    methods = method_order(analysis, steps)
    out = ["## Across tasks", "", PROFILES_TEXT, ""]
    if overview is not None and overview.error is not None:
        out += [f"_figures failed: {overview.error}_", ""]
    elif overview is not None:
        out += [f"![performance profiles in steps and in wall time]({overview.profiles})", ""]
    out += [md_table(profile_rows(steps, seconds, methods))]
    if left_out:
        out += [f"Left out of the profiles (no method's median reached the target): {', '.join(left_out)}.", ""]
    out += ["### Speedup against the baseline, method x task", "", HEATMAP_TEXT, ""]
    if overview is not None and overview.error is None:
        out += [f"![speedup against each task's baseline]({overview.heatmap})", ""]
    out += [md_table(heatmap_rows(analysis, methods))]
    return out


def _task_facts(ts: st.TaskStats, targets: list[str]) -> str:
    """'baseline: `sgd` · target test accuracy 0.9 · budget ... · N comparisons ...'."""
    facts = [f"baseline: `{ts.baseline}`" if ts.baseline else f"**{ts.note}**"]
    if targets:
        facts.append(f"target test accuracy {', '.join(targets)}")
    sample = next((m.sample for m in ts.methods.values() if m.sample.n), None)
    if sample is not None and math.isfinite(sample.budget_steps):
        facts.append(f"budget {budget_epochs(sample):g} epochs "
                     f"({sample.budget_steps:g} steps, {sample.steps_per_epoch:g} steps/epoch)")
    size = max(st.FAMILY_SIZE, len(ts.vs_baseline))
    facts.append(f"{len(ts.vs_baseline)} comparisons against the baseline, adjusted as a family of {size}")
    if ts.vs_baseline:
        facts.append(detectable_text(max(c.n for c in ts.vs_baseline.values()), size))
    return " · ".join(facts)


def detectable_text(n: int, family_size: int) -> str:
    """What n paired seeds can detect: the sign test's 80%-power effect in the family."""
    rate = st.detectable_win_rate(n, family_size)
    if rate is None:
        return (f"**{n} paired seeds: no effect is detectable** (even a method faster on every seed "
                f"would not be significant in a family of {family_size})")
    return (f"{n} paired seeds: detectable (80% power) is a method faster on at least {rate:.0%} of seeds; "
            f"smaller effects can pass unseen")


def _figure_lines(label: str, figures: TaskFigures | None) -> list[str]:
    if figures is None:
        return []
    if figures.error is not None:
        return [f"_figures failed: {figures.error}_\n"]
    return [f"![{label}: accuracy against steps]({figures.curves})", "",
            f"![{label}: steps to target per seed]({figures.steps})", ""]


def _timing(frame, results_dir: Path) -> dict:
    """Per task label, grokbench.calibrate's wall-time context ({} without calibration)."""
    from ..calibrate import load_costs, walltime_context

    costs = load_costs(results_dir) if len(frame) else {}
    return walltime_context(frame, costs) if costs else {}


def _task_section(label: str, ts: st.TaskStats, targets: list[str], figures: TaskFigures | None,
                  timing: Mapping | None = None, links: Mapping[str, str] | None = None) -> list[str]:
    """One task: facts, main table (linked to its cell pages), thresholds, figures, stacks
    and pairs (if any), wall time."""
    out = [f"## {label}", "", _task_facts(ts, targets), "", md_table(link_cells(main_rows(ts), links))]
    if ts.at_threshold:
        out += [f"### {label}: verdicts at each threshold", "", THRESHOLDS_TEXT, "",
                md_table(threshold_rows(ts, ", ".join(targets)))]
    out += _figure_lines(label, figures)
    if ts.stacks:
        out += [f"### {label}: stacked accelerators", "", STACKS_TEXT, "", md_table(stack_rows(ts))]
    if ts.controls:
        out += [f"### {label}: the controls (base at its settings, on the tuned base)", "", CONTROLS_TEXT, "",
                md_table(control_rows(ts))]
    if ts.pairs:
        out += [f"### {label}: named methods against each other", "", PAIRS_TEXT, "", md_table(pair_rows(ts))]
    out += [f"### {label}: wall time", "", WALLTIME_TEXT, "", md_table(walltime_rows(ts, timing))]
    return out
