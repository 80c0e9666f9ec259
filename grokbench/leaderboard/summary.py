"""The page's opening findings, written from the numbers (never by hand); the
disagreements between two analyses (default settings against tuned ones); and which
methods the folder's study asked to compare with each other (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .. import stats as st
from .format import fmt_num
from .rows import THRESHOLD_NAMES

SHORT_VERDICTS = {st.NO_DIFF: "n.s.", st.NOT_ENOUGH: "no test"}
TOP = 3  # methods named per cost in the across-tasks line


def _names(methods: Iterable[str]) -> str:
    return ", ".join(f"`{m}`" for m in methods) or "none"


def threshold_story(ts: st.TaskStats, method: str) -> str:
    """'faster at 0.90, 0.95; n.s. at target': the method's verdicts grouped by threshold."""
    grouped: dict[str, list[str]] = {}
    for t, verdict in ts.verdicts(method).items():
        grouped.setdefault(SHORT_VERDICTS.get(verdict, verdict), []).append(THRESHOLD_NAMES[t])
    return "; ".join(f"{v} at {', '.join(names)}" for v, names in grouped.items())


def control_story(ts: st.TaskStats, method: str) -> str | None:
    """Why a method faster than the baseline in steps is not called faster given its
    controls (in words; markdown), or None where its gain survives both or it has none.
    A gain survives "base at its settings" when the method is significantly faster than
    its base optimizer at those settings, and "on the tuned base" when the method with
    its own knobs on the tuned baseline's settings is significantly faster than the
    baseline."""
    alone = ts.controls.get(st.BASE_AT_ITS_SETTINGS, {}).get(method)
    on_base = ts.controls.get(st.ON_THE_TUNED_BASE, {}).get(method)
    if alone is None and on_base is None:
        return None
    stories = []
    if alone is None:
        stories.append("its base at its settings was not run")
    elif alone.verdict != st.FASTER:
        than = "faster" if alone.verdict == st.SLOWER else "as fast"
        stories.append(f"its gain over the baseline is its drawn settings: the base at those settings "
                       f"(`{alone.reference}`) is {than}")
    on_base_vs = ts.vs_baseline.get(on_base.reference) if on_base is not None else None
    if on_base_vs is None:
        stories.append("it was not run on the tuned base")
    elif on_base_vs.verdict != st.FASTER:
        stories.append(f"on the tuned base (`{on_base.reference}`) it is not faster than the baseline "
                       f"({SHORT_VERDICTS.get(on_base_vs.verdict, on_base_vs.verdict)})")
    return f"`{method}`: " + "; ".join(stories) if stories else None


def task_finding(label: str, ts: st.TaskStats) -> str:
    """One task in a sentence or four: who is significantly faster or slower than the
    baseline in steps and in wall time, which verdicts hold at every threshold, which
    depend on it, and how many trials crossed the target and fell back. A tuned
    accelerator with controls counts as faster in steps only where its gain survives
    them (``control_story``); where it does not, a sentence says why."""
    if ts.baseline is None:
        return f"**{label}**: {ts.note}."
    cs = ts.vs_baseline
    explained = {m: control_story(ts, m) for m in cs if cs[m].verdict == st.FASTER}
    explained = {m: story for m, story in explained.items() if story}

    named = ts.named()  # the controls have their own table

    def who(attr: str, verdict: str) -> list[str]:
        return [m for m in named if m in cs and getattr(cs[m], attr) == verdict
                and not (attr == "verdict" and m in explained)]

    seeds = max((c.n for c in cs.values()), default=0)
    text = (f"**{label}** (baseline `{ts.baseline}`, {seeds} paired seeds): significantly faster than the "
            f"baseline in steps: {_names(who('verdict', st.FASTER))}; in wall time: "
            f"{_names(who('time_verdict', st.FASTER))}. Slower in steps: {_names(who('verdict', st.SLOWER))}; "
            f"in wall time: {_names(who('time_verdict', st.SLOWER))}.")
    if explained:
        text += (" Faster than the baseline, but not once its controls are counted: "
                 + "; ".join(explained[m] for m in named if m in explained) + ".")
    robust = [f"`{m}` ({cs[m].verdict})" for m in named if m in cs and ts.consistency(m) == st.ROBUST]
    shifting = [f"`{m}` ({threshold_story(ts, m)})" for m in named
                if m in cs and ts.consistency(m) in (st.FLIPS, st.DEPENDS)]
    if robust:
        text += f" Robust to the threshold (the same at 0.90, 0.95 and the target): {', '.join(robust)}."
    if shifting:
        text += f" Depends on the threshold: {', '.join(shifting)}."
    relapsed = [f"`{m}` ({ts.methods[m].sample.n_relapsed} of {ts.methods[m].sample.n})" for m in named
                if ts.methods[m].sample.n_relapsed]
    if relapsed:
        text += f" Crossed the target, then fell back below it: {', '.join(relapsed)}."
    collapsed = [f"`{m}` ({ts.methods[m].sample.n_unstable} of {ts.methods[m].sample.n})" for m in named
                 if ts.methods[m].sample.n_unstable]
    if collapsed:
        text += f" Solved, then collapsed after the window: {', '.join(collapsed)}."
    n_controls = len(ts.control_labels() & set(ts.methods))
    if n_controls:
        text += f" The {n_controls} control labels are left to the controls table."
    rate = st.detectable_win_rate(seeds, max(st.FAMILY_SIZE, len(cs)))
    text += (f" With {seeds} paired seeds no difference can be significant here." if rate is None else
             f" {seeds} paired seeds detect a method faster on at least {rate:.0%} of seeds (80% power); "
             f"\"no significant difference\" does not rule out a smaller effect.")
    return text


def profile_finding(steps: Mapping[str, st.Profile], seconds: Mapping[str, st.Profile],
                    left_out: list[str]) -> str:
    """The best performance-profile scores in steps and in wall time."""
    def best(profiles: Mapping[str, st.Profile]) -> str:
        top = sorted(profiles.values(), key=lambda p: (-p.score, p.method))[:TOP]
        return ", ".join(f"`{p.method}` {fmt_num(p.score)} ({p.n_tasks} task{'s' * (p.n_tasks != 1)})"
                         for p in top) or "none"

    n_tasks = max((p.n_tasks for p in steps.values()), default=0)
    if n_tasks <= 1:
        return (f"**One task** in the profiles: no ranking across tasks; best score in steps "
                f"{best(steps)}, in wall time {best(seconds)}.")
    text = (f"**Across tasks** (performance-profile score: 1 = the fastest median on every task it ran): "
            f"in steps {best(steps)}; in wall time {best(seconds)}.")
    fewer = sorted(p.method for p in steps.values() if p.n_tasks < n_tasks)
    if fewer:
        text += (f" Ran on fewer of the {n_tasks} tasks (scored on those only): "
                 + ", ".join(f"`{m}` ({steps[m].n_tasks})" for m in fewer) + ".")
    if left_out:
        text += f" Left out (no method's median reached the target): {_names(left_out)}."
    return text


def findings(analysis: Mapping[str, st.TaskStats]) -> list[str]:
    """The page's summary: one line across tasks, then one per task (markdown)."""
    steps, left_out = st.performance_profiles(analysis, "steps")
    seconds, _ = st.performance_profiles(analysis, "seconds")
    return [profile_finding(steps, seconds, left_out), *(task_finding(label, ts) for label, ts in analysis.items())]


def disagreements(default: Mapping[str, st.TaskStats], tuned: Mapping[str, st.TaskStats]) -> list[str]:
    """Where two analyses of the same tasks (default settings, tuned settings) give a
    method different verdicts against the baseline, in steps or in wall time; tasks and
    methods are matched by label, those in only one analysis are skipped."""
    out = []
    for label in sorted(default.keys() & tuned.keys()):
        a, b = default[label].vs_baseline, tuned[label].vs_baseline
        for m in sorted(a.keys() & b.keys()):
            for what, attr in (("steps", "verdict"), ("wall time", "time_verdict")):
                va, vb = getattr(a[m], attr), getattr(b[m], attr)
                if va != vb:
                    out.append(f"`{label}` / `{m}` ({what}): default settings {va}, tuned {vb}")
    return out


def requested_pairs(studies: Iterable[Any] | None, runs: Iterable[Mapping[str, Any]] = ()) -> set[str]:
    """The method labels to compare with each other (``stats.ALL_PAIRS``: every method):
    those each study part with compare mode all-pairs named (``grokbench.study``; ALL_PAIRS
    where its request said ``all``); empty when none asked. ``studies`` None (a folder
    made before study files): read from the logged ``grokbench run`` commands instead
    (``legacy_pairs``)."""
    if studies is None:
        return legacy_pairs(runs)
    labels: set[str] = set()
    for part in studies:
        if part.compare == "all-pairs":
            labels |= part.named_labels()
            labels |= _method_labels(part.request.methods) & {st.ALL_PAIRS}
    return labels


def legacy_pairs(runs: Iterable[Mapping[str, Any]]) -> set[str]:
    """For folders without a study file: the ``--methods`` of each logged ``grokbench run``
    command that says ``--compare all-pairs``, read from its words (the last value of a
    flag wins, as on the command line); a command written otherwise names none."""
    labels: set[str] = set()
    for run in runs:
        words = str(run.get("command") or "").split()
        if len(words) < 2 or words[1] != "run":
            continue
        values = _flag_values(words[2:])
        if values.get("--compare") == "all-pairs":
            labels.update(_method_labels(values.get("--methods", "sgd,adamw")))
    return labels


def _flag_values(words: list[str]) -> dict[str, str]:
    """``--flag value`` and ``--flag=value`` pairs of a command's words, the last one winning."""
    out: dict[str, str] = {}
    for i, word in enumerate(words):
        name, eq, value = word.partition("=")
        if name in ("--compare", "--methods"):
            if eq:
                out[name] = value
            elif i + 1 < len(words):
                out[name] = words[i + 1]
    return out


def _method_labels(methods: str) -> set[str]:
    """The labels a ``--methods`` text names, as records carry them: commas inside brackets
    belong to a label and a grid expands (``sgd[lr=0.1,0.2]`` is two labels); ``all`` is
    ``stats.ALL_PAIRS``. A text the grammar refuses names none."""
    from .. import variants
    from ..errors import UserError

    labels: set[str] = set()
    try:
        for item in variants.split_top_level(methods, ",", "--methods"):
            item = item.strip()
            if item == "all":
                labels.add(st.ALL_PAIRS)
            elif item:
                labels.update(variants.expand_label(item))
    except UserError:
        return set()
    return labels
