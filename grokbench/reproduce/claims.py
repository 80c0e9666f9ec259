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
        "ordering": [["faster method", "slower method"], ...],
        "seeds": "0-4"}]}

``arxiv`` is the preprint's identifier, or, for a claim without one, where it is published
(``github.com/OWNER/REPO``). ``published`` is a number (``unit`` to ``metric``), ``true``/``false`` (the paper says the
method reaches / does not reach the metric) or ``null`` (a control or an open question the
paper did not run). A budget entry is task parameters set for that budget; ``null`` means
the experiment does not run at that budget (it is listed on the page as not run).
``seeds`` (the claim's, required) and an experiment's own ``seeds`` (optional, overriding the
claim's for that experiment) take the syntax of ``--seeds``: ``N`` (seeds 0..N-1), ``A-B`` or
``A,B,C``; a long experiment can run fewer seeds than its claim's others. ``--seeds`` on the
command line replaces both (``runner.Caps``). A malformed one is a UserError naming the field.
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
from ..plan import parse_seeds
from ..schema import (
    Field,
    Schema,
    an_object,
    any_of,
    boolean,
    check,
    integer,
    list_of,
    null,
    number,
    one_of,
    plain_name,
    text,
)

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
    seeds: str | None = None  # its own seeds, overriding the claim's; None: the claim's

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


_PAIR = list_of(text)
_BUDGET = any_of(an_object, null)

METHOD_FIELDS: Schema = {
    "method": Field(text),
    "role": Field(text, required=False),
    "published": Field(any_of(number(lo=0), boolean, null), required=False),
    "note": Field(text, required=False),
}
BUDGET_FIELDS: Schema = {name: Field(_BUDGET) for name in BUDGETS}
EXPERIMENT_FIELDS: Schema = {
    "id": Field(plain_name),
    "task": Field(text),
    "set": Field(list_of(text), required=False),
    "budget": Field(an_object),
    "methods": Field(list_of(an_object, min_items=1)),
    "ordering": Field(list_of(_PAIR), required=False),
    "seeds": Field(any_of(text, integer(lo=1)), required=False),
}
CLAIM_FIELDS: Schema = {
    "name": Field(plain_name),
    "title": Field(text),
    "arxiv": Field(text),
    "claim": Field(text),
    "metric": Field(one_of(*METRICS)),
    "unit": Field(one_of(*UNITS)),
    "metric_text": Field(text),
    "seeds": Field(any_of(text, integer(lo=1))),
    "numbers_comparable": Field(boolean, required=False),
    "notes": Field(list_of(text), required=False),
    "experiments": Field(list_of(an_object, min_items=1)),
}


def _method(data: dict[str, Any], where: str, path: str) -> MethodEntry:
    check(data, METHOD_FIELDS, where, path)
    return MethodEntry(data["method"], data.get("role", ""), data.get("published"), data.get("note", ""))


def _experiment(data: dict[str, Any], where: str, path: str) -> Experiment:
    check(data, EXPERIMENT_FIELDS, where, path)
    budgets = check(data["budget"], BUDGET_FIELDS, where, f"{path}.budget")
    methods = tuple(_method(m, where, f"{path}.methods[{i}]") for i, m in enumerate(data["methods"]))
    labels = [m.method for m in methods]
    if len(set(labels)) != len(labels):
        raise UserError(f"{where}: {path}.methods must list distinct methods")
    ordering = tuple(tuple(pair) for pair in data.get("ordering", []))
    for i, pair in enumerate(ordering):
        if len(pair) != 2 or not set(pair) <= set(labels):
            raise UserError(f"{where}: {path}.ordering[{i}] {list(pair)} must name two of its methods")
    seeds = str(data["seeds"]) if "seeds" in data else None
    if seeds is not None:
        parse_seeds(seeds, f"{where}: {path}.seeds")
    return Experiment(data["id"], data["task"], tuple(data.get("set", [])), dict(budgets), methods, ordering,
                      seeds)


def parse_claim(data: Any, source: str) -> Claim:
    """A claim file's JSON content -> Claim; a malformed file is a UserError naming the file
    and the field (the schema: ``CLAIM_FIELDS``, ``EXPERIMENT_FIELDS``, ``METHOD_FIELDS``)."""
    check(data, CLAIM_FIELDS, source)
    parse_seeds(str(data["seeds"]), f"{source}: seeds")
    experiments = tuple(_experiment(e, source, f"experiments[{i}]") for i, e in enumerate(data["experiments"]))
    ids = [e.id for e in experiments]
    if len(set(ids)) != len(ids):
        raise UserError(f"{source}: experiments must have distinct ids")
    return Claim(data["name"], data["title"], data["arxiv"], data["claim"], data["metric"], data["unit"],
                 data["metric_text"], str(data["seeds"]), data.get("numbers_comparable", True),
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
