"""comparisons.csv: every comparison of a page, one row each, with its family.

Columns: task, method, baseline (the reference: the task's baseline, a stack's part, the
other method of a named pair or a tuned accelerator's control), threshold (t90 / t95 / target), measure (steps or seconds),
n (paired seeds), wins, losses, ties, p_raw, p_adjusted, family, family_size, verdict.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping

from .. import stats as st

COLUMNS = ("task", "method", "baseline", "threshold", "measure", "n", "wins", "losses", "ties",
           "p_raw", "p_adjusted", "family", "family_size", "verdict")


def _rows_of(task: str, c: st.Comparison, threshold: str, family_size: int) -> Iterator[dict]:
    measures = [("steps", c.sign, c.p_adjusted, c.verdict)]
    if threshold == st.TARGET:
        measures.append(("seconds", c.time_sign, c.p_time_adjusted, c.time_verdict))
    for measure, sign, p_adjusted, verdict in measures:
        family = c.family if measure == "steps" else f"{c.family} / seconds"
        yield {"task": task, "method": c.method, "baseline": c.reference, "threshold": threshold,
               "measure": measure, "n": c.n, "wins": sign.wins, "losses": sign.losses, "ties": sign.ties,
               "p_raw": sign.p, "p_adjusted": p_adjusted, "family": family, "family_size": family_size,
               "verdict": verdict}


def comparison_rows(analysis: Mapping[str, st.TaskStats]) -> list[dict]:
    """Every comparison of ``analysis``: against the baseline at each threshold, stacks
    against their parts, named pairs, tuned accelerators against their controls."""
    out: list[dict] = []
    for task, ts in analysis.items():
        families = [(cs, t) for t, cs in ((t, list(ts.at_threshold.get(t, {}).values())) for t in st.THRESHOLDS)]
        families += [(ts.stacks, st.TARGET), (ts.pairs, st.TARGET)]
        families += [(list(ts.controls.get(kind, {}).values()), st.TARGET) for kind in st.CONTROL_KINDS]
        for comparisons, threshold in families:
            size = max(st.FAMILY_SIZE, len(comparisons))
            for c in comparisons:
                out.extend(_rows_of(task, c, threshold, size))
    return out


def comparisons_csv(analysis: Mapping[str, st.TaskStats]) -> str:
    """comparison_rows(analysis) as CSV text (a header line, then a row per comparison)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(comparison_rows(analysis))
    return buffer.getvalue()
