"""Helpers shared by the tests: tiny configurations that train in well under a second."""

from __future__ import annotations

import json
from pathlib import Path

TINY_PARITY = [
    "--set", "sparse_parity.n_train=200",
    "--set", "sparse_parity.n_test=100",
    "--set", "sparse_parity.max_epochs=8",
]


def run_cli(*argv: str) -> int:
    from grokbench.cli import main

    return main(list(argv))


def record_paths(out: Path) -> list[Path]:
    """The record files of the results folder ``out``, either format (compact or old); none
    before its records/ exists. A write's temporary file is not one."""
    from grokbench.store import Store

    return Store(out).record_files() if (out / "records").is_dir() else []


def read_records(out: Path, names: set[str] | None = None) -> list[dict]:
    """The raw JSON of the folder's records (only the files named in ``names`` when given)."""
    from grokbench.recordfile import read_record_bytes

    return [json.loads(read_record_bytes(p)) for p in record_paths(out) if names is None or p.name in names]


def rewrite_record(path: Path, record: dict) -> None:
    """Replace the record file ``path`` by ``record`` (a test's edit), in the file's own format."""
    import gzip

    data = json.dumps(record).encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def study_request(out: Path, methods: str, seeds: str, sets: list[str], tasks: str = "sparse_parity",
                  tuned: str | None = None, **settings) -> str:
    """Write a request part (docs/study.md) into ``out/study.toml``: ``sets`` as
    ``NAME.PARAM=VALUE`` (a ``--set`` before each is dropped), ``settings`` the part's own
    (``baseline=False``, ``after_solve=1``), ``tuned`` the request's tuning folder; returns the file's path, for ``run PATH``."""
    from grokbench.tomltext import dumps

    out.mkdir(parents=True, exist_ok=True)
    request = {"tasks": tasks, "methods": methods, "seeds": seeds, "set": [s for s in sets if s != "--set"]}
    if tuned is not None:
        request["tuned"] = tuned
    path = out / "study.toml"
    path.write_text(dumps({"format": "grokbench-study/1", "part": [{**settings, "request": request}]}))
    return str(path)



def interrupt_after(evaluations: int):
    """A progress callback that raises KeyboardInterrupt at the given evaluation (a Ctrl-C
    at a known point of training, never at a fixed delay)."""
    calls = []

    def progress(*_):
        calls.append(1)
        if len(calls) == evaluations:
            raise KeyboardInterrupt

    return progress


def torch_attention(params: dict, block: int, d: int, heads: int, t: int):
    """torch's nn.MultiheadAttention loaded with block ``block``'s attention weights from
    ``params`` (our transformer's names), and the causal mask for ``t`` positions: the
    reference our attention is checked against."""
    import torch
    from torch import nn

    attn = nn.MultiheadAttention(d, heads)
    attn.in_proj_weight.data = torch.cat([params[f"h{block}.w{n}"] for n in "qkv"])
    attn.in_proj_bias.data = torch.cat([params[f"h{block}.b{n}"] for n in "qkv"])
    attn.out_proj.weight.data, attn.out_proj.bias.data = params[f"h{block}.wo"], params[f"h{block}.bo"]
    return attn, torch.triu(torch.full((t, t), -float("inf")), diagonal=1)
