"""Claim files -> checked, immutable claims.

A claim file (JSON, one per paper) holds::

    {"name": "grokfast", "title": "...", "arxiv": "2405.20233",
     "claim": "one sentence", "metric": "t95" | "target", "unit": "steps" | "epochs",
     "metric_text": "steps to 95% validation accuracy", "seeds": "0-1",
     "numbers_comparable": true, "notes": ["..."],
     "experiments": [
       {"id": "mul", "task": "modular_addition:grokfast", "set": ["NAME.PARAM=VALUE", ...],
        "budget": {"cpu": {"max_steps": 2000} | null, "paper": {"max_steps": 300000}},
        "methods": [{"method": "adam", "role": "baseline", "published": 39890,
                     "note": "..."}, ...],
        "ordering": [["faster method", "slower method"], ...]}]}

``arxiv`` is the preprint's identifier, or, for a claim without one, where it is published
(``github.com/OWNER/REPO``). ``published`` is a number (``unit`` to ``metric``), ``true``/``false`` (the paper says the
method reaches / does not reach the metric) or ``null`` (a control or an open question the
paper did not run). A budget entry is task parameters set for that budget; ``null`` means
the experiment does not run at that budget (it is listed on the page as not run).
``numbers_comparable: false`` shows the published numbers but keeps them out of the
verdict (the paper's setting differs from ours); the orderings still count.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError

BUILTIN_DIR = Path(__file__).parent / "claims"
BUDGETS = ("cpu", "paper")
METRICS = ("t95", "target")
UNITS = ("steps", "epochs")


@dataclass(frozen=True)
class MethodEntry:
    method: str
    role: str
    published: float | bool | None
    note: str = ""


@dataclass(frozen=True)
class Experiment:
    id: str
    task: str
    overrides: tuple[str, ...]
    budgets: dict[str, dict[str, Any] | None]
    methods: tuple[MethodEntry, ...]
    ordering: tuple[tuple[str, str], ...]

    def budget(self, name: str) -> dict[str, Any] | None:
        """Task parameters of budget ``name``; None when the experiment skips that budget."""
        return self.budgets.get(name)


@dataclass(frozen=True)
class Claim:
    name: str
    title: str
    arxiv: str
    claim: str
    metric: str
    unit: str
    metric_text: str
    seeds: str
    numbers_comparable: bool
    notes: tuple[str, ...]
    experiments: tuple[Experiment, ...]
    source: str

    @property
    def reference(self) -> str:
        """``arXiv ID`` when ``arxiv`` is an arXiv identifier, else ``arxiv`` as written (a
        claim without a preprint names its repository there)."""
        return f"arXiv {self.arxiv}" if re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?", self.arxiv) else self.arxiv


def _need(data: dict, key: str, kind: type | tuple, where: str) -> Any:
    if key not in data:
        raise UserError(f"{where}: missing {key!r}")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise UserError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def _method(data: Any, where: str) -> MethodEntry:
    if not isinstance(data, dict):
        raise UserError(f"{where}: a method entry must be an object")
    published = data.get("published")
    if published is not None and not isinstance(published, (int, float, bool)):
        raise UserError(f"{where}: 'published' must be a number, true/false or null")
    return MethodEntry(_need(data, "method", str, where), str(data.get("role", "")),
                       published, str(data.get("note", "")))


def _experiment(data: Any, where: str) -> Experiment:
    if not isinstance(data, dict):
        raise UserError(f"{where}: an experiment must be an object")
    exp_id = _need(data, "id", str, where)
    where = f"{where} experiment {exp_id!r}"
    budgets = _need(data, "budget", dict, where)
    if set(budgets) != set(BUDGETS) or not all(b is None or isinstance(b, dict) for b in budgets.values()):
        raise UserError(f"{where}: 'budget' must give 'cpu' and 'paper', each an object or null")
    methods = tuple(_method(m, where) for m in _need(data, "methods", list, where))
    labels = {m.method for m in methods}
    if not methods or len(labels) != len(methods):
        raise UserError(f"{where}: 'methods' must list distinct methods")
    ordering = tuple(tuple(pair) for pair in data.get("ordering", []))
    for pair in ordering:
        if len(pair) != 2 or not set(pair) <= labels:
            raise UserError(f"{where}: ordering {list(pair)} must name two of its methods")
    return Experiment(exp_id, _need(data, "task", str, where), tuple(data.get("set", [])), dict(budgets),
                      methods, ordering)


def parse_claim(data: Any, source: str) -> Claim:
    """A claim file's JSON content -> Claim; a malformed file is a UserError naming it."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: a claim file holds one JSON object")
    name = _need(data, "name", str, source)
    metric, unit = _need(data, "metric", str, source), _need(data, "unit", str, source)
    if metric not in METRICS or unit not in UNITS:
        raise UserError(f"{source}: metric must be one of {METRICS}, unit one of {UNITS}")
    experiments = tuple(_experiment(e, source) for e in _need(data, "experiments", list, source))
    if not experiments or len({e.id for e in experiments}) != len(experiments):
        raise UserError(f"{source}: 'experiments' must list experiments with distinct ids")
    return Claim(name, _need(data, "title", str, source), _need(data, "arxiv", str, source),
                 _need(data, "claim", str, source), metric, unit, _need(data, "metric_text", str, source),
                 str(_need(data, "seeds", (str, int), source)), bool(data.get("numbers_comparable", True)),
                 tuple(data.get("notes", [])), experiments, source)


def load_claim_file(path: str | Path) -> Claim:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"cannot read claim file {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"claim file {path} is not valid JSON: {exc}") from None
    return parse_claim(data, str(path))


def load_claims(extra_files: list[str] | tuple[str, ...] = ()) -> dict[str, Claim]:
    """The built-in claims (sorted by file name), then ``extra_files``; names are unique."""
    claims: dict[str, Claim] = {}
    for path in [*sorted(BUILTIN_DIR.glob("*.json")), *map(Path, extra_files)]:
        claim = load_claim_file(path)
        if claim.name in claims:
            raise UserError(f"claim {claim.name!r} of {path} is already defined by {claims[claim.name].source}")
        claims[claim.name] = claim
    return claims


def select(claims: dict[str, Claim], names: list[str]) -> list[Claim]:
    """``names`` (or ``all``) -> claims, in the order given."""
    if names == ["all"]:
        return list(claims.values())
    unknown = [n for n in names if n not in claims]
    if unknown:
        raise UserError(f"unknown reproduction(s) {', '.join(unknown)}; known: {', '.join(claims)} (or all)")
    return [claims[n] for n in dict.fromkeys(names)]
