"""Results folders as experiments: one label per configuration (:func:`disambiguate`).

Contract: a results folder may hold the same task label under different parameters
(another ``--set``), or one method label with different settings; those are different
experiments and must not be pooled, so each variant gets the differing parameters
appended to its label (``label [k=v,...]``). Rows are otherwise unchanged.
"""

from __future__ import annotations

import json


def _param_diff(dicts: list[dict]) -> list[str]:
    """For each dict, 'k=v,...' of the keys whose values differ across the list."""
    keys = sorted({k for d in dicts for k in d})
    differ = [k for k in keys if len({repr(d.get(k)) for d in dicts}) > 1]
    return [",".join(f"{k}={d.get(k)}" for k in differ) for d in dicts]


def _flat_params(row: dict, prefix_fields: tuple[str, ...]) -> dict:
    out = {}
    for f in prefix_fields:
        v = row.get(f)
        if isinstance(v, dict):
            out.update({f"{k}": val for k, val in v.items()})
        elif isinstance(v, list):
            for t in v:
                if isinstance(t, dict):
                    out.update({f"{t.get('name')}.{k}": val for k, val in (t.get("params") or {}).items()})
        elif v is not None:
            out[f] = v
    return out


def _relabel(labels: list[str], rows: list[dict], groups: list[list[int]], config: list[str],
             fields: tuple[str, ...]) -> list[str]:
    """Within each group of row indices, rows of different ``config`` get the differing
    parameters appended to their label: ``label [k=v]``."""
    out = list(labels)
    for idx in groups:
        cfgs = list(dict.fromkeys(config[i] for i in idx))
        if len(cfgs) < 2:
            continue
        reps = [next(rows[i] for i in idx if config[i] == c) for c in cfgs]
        names = dict(zip(cfgs, _param_diff([_flat_params(r, fields) for r in reps])))
        for i in idx:
            out[i] = f"{labels[i]} [{names[config[i]]}]"
    return out


def disambiguate(frame):
    """Copy of ``frame`` with ``task_label``/``method`` made unique per configuration.

    A results folder may hold the same task label under different parameters (another
    ``--set``), or one method label with different settings; those are different
    experiments and must not be pooled. Each variant gets the differing parameters
    appended, e.g. ``sparse_parity [max_epochs=60]``.
    """
    frame = frame.copy()
    if frame.empty:
        return frame

    def sig(v) -> str:
        return json.dumps(v, sort_keys=True, default=str)

    rows = frame.to_dict(orient="records")
    tasks = [str(t) for t in frame["task_label"]]
    task_groups = [[i for i, t in enumerate(tasks) if t == label] for label in dict.fromkeys(tasks)]
    tasks = _relabel(tasks, rows, task_groups, [sig(r.get("task_params")) for r in rows], ("task_params",))
    fields = ("optimizer", "optimizer_params", "transforms")
    methods = [str(m) for m in frame["method"]]
    keys = [(t, m) for t, m in zip(tasks, methods)]
    method_groups = [[i for i, k in enumerate(keys) if k == key] for key in dict.fromkeys(keys)]
    frame["task_label"] = tasks
    frame["method"] = _relabel(methods, rows, method_groups, [sig([r.get(f) for f in fields]) for r in rows],
                               fields)
    return frame
