"""Results folder -> leaderboard: markdown tables with figures, and the same tables in a
terminal.

``grokbench leaderboard DIR [-o OUTDIR]`` writes ``OUTDIR/README.md`` (default
``DIR/leaderboard``), two PNGs across tasks (see :mod:`.overview`) and, per task, two
PNGs (see :mod:`.figures`) and, on a tuned page, its tuning curve (:mod:`.tuning_figures`), a page per (task, method) in ``OUTDIR/cells/`` that the main
tables' numbers link to (see :mod:`.cells`), ``comparisons.csv`` and ``results.csv`` (the
records as ``grokbench export`` flattens them, less the per-task, per-study and bookkeeping
columns: ``export.page_columns``), referenced by relative paths so the folder
renders on any git host.

Every number comes from :mod:`grokbench.stats`; this package only formats and plots, and
analyses a folder once per call: pass an analysis already made to reuse it.

Modules: :mod:`.format` (cell strings), :mod:`.rows` (table rows), :mod:`.links` (cell
page names and links), :mod:`.cells` (per-cell pages), :mod:`.figures` (per task), :mod:`.overview` (across tasks), :mod:`.summary` (the generated findings),
:mod:`.provenance` (page header facts), :mod:`.markdown` (the page as a string),
:mod:`.terminal` (rich tables).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from .. import stats as st
from ..export import csv_text, export_frame, page_columns
from ..study import read_folder
from .cells import write_cell_pages
from .comparisons import comparison_rows, comparisons_csv
from .figures import TaskFigures, plot_curves, plot_steps, slug, write_figures
from .format import fmt_interval, fmt_median, fmt_num, fmt_p, fmt_ratio, fmt_seconds, fmt_solved
from .links import cell_names, link_cells, safe_name
from .markdown import METRIC_LINES, DefaultsPart, md_table, read_folder_notes, render_markdown
from .output import PAGE, printable, publish, refuse_foreign, staging
from .overview import OverviewFigures, write_overview
from .provenance import git_commit
from .rows import (
    MAIN_COLUMNS,
    budget_epochs,
    heatmap_rows,
    main_rows,
    pair_rows,
    profile_rows,
    scale_epochs,
    stack_rows,
    threshold_rows,
    walltime_rows,
)
from .summary import disagreements, findings, requested_pairs
from .terminal import print_tables
from .tuning_figures import write_tuning_curves

__all__ = [
    "COMPARISONS_CSV", "MAIN_COLUMNS", "RESULTS_CSV", "cell_names", "link_cells", "safe_name", "write_cell_pages", "METRIC_LINES", "OverviewFigures", "TaskFigures", "budget_epochs",
    "comparison_rows", "disagreements",
    "findings", "fmt_interval", "fmt_median", "fmt_num", "fmt_p", "fmt_ratio", "fmt_seconds", "fmt_solved",
    "git_commit", "heatmap_rows", "load_leaderboard_frame", "main_rows", "md_table", "pair_rows", "plot_curves",
    "plot_steps", "print_tables", "profile_rows", "render_markdown", "requested_pairs", "run_and_folder_analyses",
    "scale_epochs", "slug", "stack_rows", "threshold_rows", "walltime_rows", "write_figures", "write_leaderboard",
    "comparisons_csv", "write_overview",
]

Analysis = dict[str, st.TaskStats]


def load_leaderboard_frame(results_dir: str | Path):
    """The folder's records as a frame with everything the page needs (with curves, and
    the calibrated step costs of grokbench.calibrate where the folder has them)."""
    from ..calibrate import load_calibrated_frame

    return load_calibrated_frame(results_dir, with_curves=True)


def run_and_folder_analyses(folder_frame, run_keys: Collection[str]) -> tuple[Analysis, Analysis]:
    """(analysis of the trials in ``run_keys``, analysis of the whole folder).

    ``folder_frame`` is every record of the folder (load_frame); when the run's trials are
    all of them, both are the same object, computed once; otherwise the run's tables
    (their own families and medians) need a second analysis of the subset."""
    if folder_frame.empty:
        return {}, {}
    run_frame = folder_frame[folder_frame["key"].isin(list(run_keys))]
    folder = st.analyze(folder_frame)
    if len(run_frame) == len(folder_frame):  # keys are unique: the same trials
        return folder, folder
    return st.analyze(run_frame), folder


DEFAULTS_DIR = "defaults"  # where a tuned page's default-settings page goes, inside its folder
COMPARISONS_CSV = "comparisons.csv"  # every comparison of the page, beside it
RESULTS_CSV = "results.csv"  # the records of the page, a row per trial (export.page_columns), beside it


def write_leaderboard(results_dir: str | Path, outdir: str | Path | None = None, figures: bool = True,
                      show: bool = False, *, frame=None, analysis: Analysis | None = None,
                      defaults: str | Path | None = None) -> Path:
    """Write OUTDIR/README.md (+ figures) for a results folder; returns the README path.

    OUTDIR defaults to DIR/leaderboard. The page and figures are written whole or not at all,
    and only files grokbench wrote there are replaced or removed (:mod:`.output`). ``show``
    also prints the tables. ``frame``: the whole folder's records (load_frame with curves;
    loaded when None); ``analysis``: grokbench.stats.analyze(frame), computed only when
    None. The comparisons of named methods with each other that the folder's study file
    asks for (compare mode all-pairs; ``summary.requested_pairs``) are added to it. ``defaults``: a results folder of
    the same methods at their default settings (for a tuned folder): its own page goes to
    OUTDIR/defaults/, and its summary and main tables become the page's last section.
    The folder's own notes, ``DIR/NOTES.md`` when it has one (what its runs left out, and
    why), are shown under "Notes" near the top (read before anything is written; a file
    that cannot be read is a UserError)."""
    from ..store import Store

    results_dir = Path(results_dir)
    outdir = Path(outdir) if outdir is not None else results_dir / "leaderboard"
    runs = Store(results_dir).runs()  # also refuses a folder that holds no results
    page_notes = read_folder_notes(results_dir)
    studies = read_folder(results_dir)
    pairs = requested_pairs(studies, runs)
    frame = load_leaderboard_frame(results_dir) if frame is None else frame
    analysis = st.analyze(frame, pair_labels=pairs) if analysis is None else analysis
    st.add_pairs(analysis, pairs)
    if show:
        print_tables(analysis)
    refuse_foreign(outdir, [PAGE, COMPARISONS_CSV, RESULTS_CSV])  # before anything is drawn; checked again at publish
    with staging(outdir) as staged:
        drawn = write_figures(frame, analysis, staged) if figures else None
        across = write_overview(analysis, staged) if figures and analysis else None
        trials = _with_metrics(frame)
        cells = write_cell_pages(trials, analysis, staged, results_dir, outdir, figures)
        part = _write_defaults(Path(defaults), outdir, figures) if defaults is not None else None
        tuning = write_tuning_curves(frame, staged) if figures else None
        text = render_markdown(frame, analysis, runs, results_dir=results_dir, outdir=outdir,
                               commit=git_commit(), figures=drawn, overview=across, defaults=part,
                               cell_links=cells.links, studies=studies, tuning_curves=tuning,
                               notes=page_notes)
        (staged / PAGE).write_text(printable(text), encoding="utf-8")
        (staged / COMPARISONS_CSV).write_text(comparisons_csv(analysis), encoding="utf-8")
        (staged / RESULTS_CSV).write_text(csv_text(page_columns(export_frame(trials))), encoding="utf-8")
        curves = [f.path for f in (tuning or {}).values() if f.path]
        publish(staged, outdir, [PAGE, COMPARISONS_CSV, RESULTS_CSV, *cells.files, *_figure_files(drawn, across),
                                 *curves])
    return outdir / PAGE


def _with_metrics(frame):
    """The frame with its metrics recomputed from the curves (as the analysis reads them)."""
    from ..metrics import with_curve_metrics

    return with_curve_metrics(frame)


def _figure_files(drawn: dict[str, TaskFigures] | None, across: OverviewFigures | None) -> list[str]:
    """The file names of the figures the page links."""
    names = [f for figs in (drawn or {}).values() for f in (figs.curves, figs.steps)]
    names += [across.profiles, across.heatmap] if across is not None else []
    return [name for name in names if name]


def _write_defaults(results_dir: Path, outdir: Path, figures: bool) -> DefaultsPart:
    """The default-settings folder's own page in OUTDIR/defaults/, and what the tuned page
    shows of it."""
    from ..store import Store

    frame = load_leaderboard_frame(results_dir)
    analysis = st.analyze(frame, pair_labels=requested_pairs(read_folder(results_dir), Store(results_dir).runs()))
    page = write_leaderboard(results_dir, outdir / DEFAULTS_DIR, figures, frame=frame, analysis=analysis)
    links = {task: {m: f"{DEFAULTS_DIR}/{path}" for m, path in methods.items()}
             for task, methods in cell_names(analysis).items()}
    return DefaultsPart(results_dir, analysis, f"{DEFAULTS_DIR}/{page.name}", links)
