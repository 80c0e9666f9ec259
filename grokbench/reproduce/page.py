"""ClaimResults -> the markdown page of paper reproductions (a string)."""

from __future__ import annotations

import math
import shlex
from pathlib import Path

from ..errors import UserError
from .verdict import ALPHA, FACTOR, MIN_SEEDS, NOT_RUN, ClaimResult, Measure

PAGE_TITLE = "# Paper reproductions"  # the page's first line: what says that grokbench wrote it

RULE = f"""\
**The rule** (one for every claim; stricter since grokbench 0.2). Per method with a
published value, `m` is our censoring-aware median at the claim's own metric and threshold,
`B` our budget, F = {FACTOR:g}:

- a published number P *agrees* when our median lies within a factor F of it
  (P / F <= m <= P x F); when `m` is censored (half or more of our seeds did not get there)
  it *disagrees* if P x F <= B and is *censored* otherwise (our budget cannot show it);
  budgets should be at least F times the published number so that a miss is a miss;
- published "reaches it" *agrees* when `m` is finite, else it is *censored*; published
  "does not reach it" *agrees* when none of our seeds reaches it within B, else *disagrees*;
- a published ordering (A before B) *holds* only when A reaches the metric first
  significantly (paired sign test over the common seeds, p < {ALPHA:g}); it is *violated*
  when B's median is finite and at or below A's, *not significant* when A is ahead but the
  test does not show it, and *censored* when both medians are censored.

**Reproduced**: everything agrees and every ordering holds significantly. **Not
reproduced**: something disagrees or an ordering is violated. **Inconclusive at this
budget**: otherwise (something is censored or not significant, has no records, or has
fewer than {MIN_SEEDS} seeds; claims should run at least 5 seeds where the paper's run
fits in a CPU hour, 3 otherwise, and controls as many as the claim). Controls and open
questions are shown, not judged.
"""


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:,.3g}"


def _ours(m: Measure | None) -> str:
    if m is None:
        return "no records"
    if m.censored:
        return f"> {_num(m.budget)} (censored)"
    ci = "" if m.ci is None else " [" + ", ".join("> budget" if not math.isfinite(c) else _num(c)
                                                 for c in m.ci) + "]"
    return _num(m.median) + ci


def _published(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "reaches it" if value else "does not reach it"
    return _num(value)


def _ratio(a: Measure | None, b: Measure | None) -> str:
    """Our median of ``a`` over that of ``b``, where both are reached."""
    if a is None or b is None or a.censored or b.censored or b.median == 0:
        return ""
    return f" (ours: {_num(a.median)} vs {_num(b.median)}, ratio {a.median / b.median:.2f})"


def _experiment_table(result: ClaimResult, exp) -> list[str]:
    got, rows = result.measures[exp.id], result.rows[exp.id]
    lines = [f"**{exp.id}**: task `{exp.task}`" + (f" with {', '.join(f'`{s}`' for s in exp.overrides)}"
                                                   if exp.overrides else ""), "",
             f"| method | role | published | ours: median [95% CI] ({result.claim.unit}) | solved | budget | outcome |",
             "|---|---|---|---|---|---|---|"]
    for e in exp.methods:
        m = got.get(e.method)
        solved = "-" if m is None else f"{m.k}/{m.n}" + (f" ({m.diverged} diverged)" if m.diverged else "")
        budget = "-" if m is None else _num(m.budget)
        published = _published(e.published) + (f" ({e.note})" if e.note else "")
        lines.append(f"| `{e.method}` | {e.role} | {published} | {_ours(m)} | {solved} | {budget} | "
                     f"{rows[e.method] or 'shown only'} |")
    for a, b, outcome in result.orderings[exp.id]:
        lines.append(f"\nOrdering `{a}` before `{b}`: {outcome}{_ratio(got.get(a), got.get(b))}.")
    if exp.id in result.hardware:
        lines.append(f"\nRan on: {result.hardware[exp.id]}.")
    return lines + [""]


def render_claim(result: ClaimResult, manifest: dict | None) -> list[str]:
    c = result.claim
    lines = [f"## {c.name}: {c.title} ({c.reference})", "",
             f"**Verdict: {result.verdict}**" + (f" ({result.reason})" if result.verdict != NOT_RUN else ""),
             "", f"Claim: {c.claim}", "", f"Metric: {c.metric_text}.", ""]
    lines += [f"- {note}" for note in c.notes] + ([""] if c.notes else [])
    if manifest is None:
        return lines + ["Not run yet: `grokbench reproduce " + c.name + "`.", ""]
    for exp in c.experiments:
        if exp.id in result.measures:
            lines += _experiment_table(result, exp)
    if result.skipped:
        lines += [f"Not run at this budget: {', '.join(result.skipped)} (`--budget paper` runs them).", ""]
    budget = {e["budget"] for e in manifest["experiments"].values()}
    lines += [f"Budget: {', '.join(sorted(budget))}; command: `{shlex.join(manifest['command'])}`", ""]
    return lines


def render_page(results: list[tuple[ClaimResult, dict | None]], results_dir: str, page_command: str,
                page_path: str = "leaderboard/REPRODUCTIONS.md") -> str:
    """The whole page: the rule, a summary table, then each claim."""
    lines = [PAGE_TITLE, "",
             "Each published claim next to what this benchmark measures on the same engine "
             f"(results in `{results_dir}/<claim>/<experiment>/`, each an ordinary results folder).", "",
             RULE, "| claim | paper | verdict |", "|---|---|---|"]
    lines += [f"| {r.claim.name} | {r.claim.reference} | {r.verdict} |" for r, _ in results]
    lines.append("")
    for result, manifest in results:
        lines += render_claim(result, manifest)
    rebuild = shlex.join(["grokbench", "reproduce", "--page-only", "--out", results_dir, "--page", page_path])
    lines += [f"Page written by `{page_command}`; `{rebuild}` rebuilds it from the results without training.", ""]
    return "\n".join(lines)


def check_page_path(page: str | Path) -> None:
    """Refuse (UserError) a ``--page`` that names an existing file which is not a
    reproductions page (its first line is not ``PAGE_TITLE``): grokbench replaces only a
    page it wrote."""
    path = Path(page)
    if not (path.exists() or path.is_symlink()):
        return
    try:
        with open(path, "rb") as f:
            first = f.read(len(PAGE_TITLE) + 1) if path.is_file() else b""
    except OSError as exc:
        raise UserError(f"cannot read the page {path}: {exc.strerror or exc}") from None
    if first != (PAGE_TITLE + "\n").encode():
        raise UserError(f"--page {path} is not a reproductions page grokbench wrote (its first line is not "
                        f"'{PAGE_TITLE}'); it is left alone: name another --page")


def write_page(claims: list, root: Path, page: str | Path, command: str) -> Path:
    """Judge every claim on what ``root`` holds and write the page to ``page`` (replacing
    only a reproductions page: ``check_page_path``); returns its path. Bytes of a path that
    were not UTF-8 are written as ``\\xNN``."""
    from ..leaderboard.output import printable
    from ..store import atomic_write_text
    from .results import collect

    path = Path(page)
    check_page_path(path)
    text = render_page([collect(claim, root) for claim in claims], str(root), command, str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, printable(text))
    except OSError as exc:
        raise UserError(f"cannot write the page {path}: {exc.strerror or exc}") from None
    return path
