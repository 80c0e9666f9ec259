"""One configuration per (task label, method label) in a results folder.

Everything downstream reads a folder's records by (task label, method label): the seeds
of one method on one task are its sample. Two sets of records with one label and another
configuration (another budget, other task settings, other method settings, another
``after_solve``, another tuning, another grokbench version) would be pooled as one
method's seeds, or shown as two experiments by one command and one by another. So:

* a trial's *configuration* is its identity less the seed (``configuration``);
* ``grokbench run`` (and ``tune``) into a folder that holds a (task, method) of its plan
  at another configuration is refused before anything trains (``check_addition``), naming
  the fields that differ, the folder's value against the run's;
* every reader of a folder (``store.load_frame``: report, leaderboard, the Python API)
  refuses a folder that somehow holds two configurations of one (task, method)
  (``check_folder``), naming them, and says when the records were written by another
  grokbench version (read as they were written: the version is part of the identity, so
  such a folder is never extended by this version; the only migration is
  ``record._move_tuned_folder``, which moves older tuned records' folder to provenance).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from . import __version__
from .errors import UserError
from .record import Record

MAX_SHOWN = 3  # differing fields named in one message


def configuration(identity: dict[str, Any]) -> dict[str, Any]:
    """The identity less the seed and its null fields (null and absent say the same), as
    JSON reads it back (tuples become lists)."""
    config = {k: v for k, v in identity.items() if k != "seed" and v is not None}
    return json.loads(json.dumps(config, sort_keys=True, default=str))


def pair_of(identity: dict[str, Any]) -> tuple[str, str]:
    """(task label, method label) of an identity, as ``Record.task_label`` spells the task."""
    preset = identity.get("preset")
    return (f"{identity['task']}:{preset}" if preset else str(identity["task"])), str(identity["method"])


def differences(old: Any, new: Any, where: str = "") -> list[str]:
    """``'task_params.max_epochs: 8 -> 6'`` for each field where two configurations differ
    (dotted paths into objects, ``[i]`` into lists of one length); empty when equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for name in sorted(set(old) | set(new), key=str):
            path = f"{where}.{name}" if where else str(name)
            out += differences(old.get(name, _ABSENT), new.get(name, _ABSENT), path)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in differences(a, b, f"{where}[{i}]")]
    return [] if old == new else [f"{where or 'configuration'}: {_show(old)} -> {_show(new)}"]


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def _show(value: Any, width: int = 60) -> str:
    text = repr(value) if value is _ABSENT else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[:width - 3] + "..."


def _summary(diffs: list[str]) -> str:
    more = f"; and {len(diffs) - MAX_SHOWN} more" if len(diffs) > MAX_SHOWN else ""
    hint = ("; records of another grokbench version are another configuration (no rule migrates them)"
            if any(d.startswith("grokbench_version:") for d in diffs) else "")
    return "; ".join(diffs[:MAX_SHOWN]) + more + hint


def _records(keys: list[str], records: Iterable[Record]) -> str:
    """'records/K.json.gz' or 'records/K.json and 3 more': the first key's file as read
    (``Record.file``: ``records/packed.jsonl.xz#K`` for a packed one; a record not read from
    a file: ``K.json.gz``)."""
    name = next((r.file for r in records if r.key == keys[0] and r.file), f"{keys[0]}.json.gz")
    return f"records/{name}" + (f" and {len(keys) - 1} more" if len(keys) > 1 else "")


def variants(records: Iterable[Record]) -> dict[tuple[str, str], list[tuple[dict[str, Any], list[str]]]]:
    """Per (task label, method label): each configuration the records hold and the keys of
    its records, in key order."""
    out: dict[tuple[str, str], list[tuple[dict[str, Any], list[str]]]] = {}
    for record in sorted(records, key=lambda r: r.key):
        config = configuration(record.identity)
        found = out.setdefault(pair_of(record.identity), [])
        same = next((keys for c, keys in found if c == config), None)
        if same is None:
            found.append((config, [record.key]))
        else:
            same.append(record.key)
    return out


def check_folder(records: list[Record], root: Any) -> None:
    """Refuse (UserError) records holding two configurations of one (task, method); note
    on stderr when they were written by another grokbench version."""
    mixed = {pair: found for pair, found in variants(records).items() if len(found) > 1}
    if mixed:
        (task, method), found = next(iter(sorted(mixed.items())))
        (first, first_keys), (second, second_keys) = found[0], found[1]
        others = f"; {len(mixed) - 1} more (task, method) pair(s) are mixed too" if len(mixed) > 1 else ""
        raise UserError(
            f"{root} holds {len(found)} configurations of {task} / {method} ({_records(first_keys, records)} -> "
            f"{_records(second_keys, records)}: {_summary(differences(first, second))}){others}: one folder holds one "
            f"configuration per (task, method); move one set of records to a folder of its own")
    versions = sorted({str(r.identity.get("grokbench_version")) for r in records} - {__version__})
    if versions:
        print(f"note: {root} holds records written by grokbench {', '.join(versions)} (this is {__version__}); "
              f"they are read as they were written", file=sys.stderr)


def check_addition(identities: Iterable[dict[str, Any]], records: list[Record], root: Any) -> None:
    """Refuse (UserError) a run whose trials (``identities``, one per (task, method) is
    enough) would add another configuration of a (task, method) the records hold."""
    held = variants(records)
    for identity in identities:
        pair = pair_of(identity)
        config = configuration(identity)
        for other, keys in held.get(pair, []):
            if other != config:
                raise UserError(
                    f"{root} already holds {pair[0]} / {pair[1]} at another configuration than this run's "
                    f"({_records(keys, records)} -> this run: {_summary(differences(other, config))}): one folder holds "
                    f"one configuration per (task, method); write this run to its own --out")
