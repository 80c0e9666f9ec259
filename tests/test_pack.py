"""`grokbench pack DIR`: a results folder's records as one xz pack, read like the files.

The folder packed here is a real tiny run (sgd and adamw on a small sparse_parity, two
seeds each), made once per module and copied for each test."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

import grokbench
from grokbench import cli
from grokbench.packfile import PACK_NAME, decode_line, encode_line, pack_curve
from grokbench.record import Record
from grokbench.store import Store

LOSS_REL = 5e-4  # LOSS_DIGITS = 4 significant digits: at most half a unit in the 4th
TIME_STEP = 1e-4


def _run_args(out: Path, tiny: list[str]) -> list[str]:
    return ["run", "--methods", "sgd,adamw", "--seeds", "2", "--out", str(out), "--quiet", "--no-calibrate", *tiny]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A tiny run's results folder (records only: the leaderboard step is skipped)."""
    from helpers import TINY_PARITY

    out = tmp_path_factory.mktemp("made") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli, "_end_of_run", lambda *a, **k: None)
        assert run_cli(*_run_args(out, list(TINY_PARITY))) == 0
    return out


@pytest.fixture
def folder(made, tmp_path) -> Path:
    return Path(shutil.copytree(made, tmp_path / "copy"))


def _packed_view(record: Record) -> dict:
    """What a record is in a pack: its JSON at the pack's precision."""
    data = record.to_json()
    data["curve"] = pack_curve(data["curve"])
    return data


def test_pack_round_trip_of_a_tiny_run(folder, capsys):
    before = {r.key: r for r in Store(folder).records()}
    assert len(before) == 4
    assert run_cli("pack", str(folder)) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("packed 4 records (4 from files)") and "->" in line
    assert [p.name for p in (folder / "records").iterdir()] == [PACK_NAME]
    after = Store(folder).records()
    assert [r.key for r in after] == sorted(before)
    for record in after:
        old = before[record.key]
        assert record.file == f"{PACK_NAME}#{record.key}"
        assert record.to_json() == _packed_view(old)
        assert {k: v for k, v in record.to_json().items() if k != "curve"} == \
               {k: v for k, v in old.to_json().items() if k != "curve"}
        for name in ("step", "epoch", "train_acc", "test_acc"):
            assert record.curve[name] == old.curve[name]
        for name in ("train_loss", "test_loss"):
            assert record.curve[name] == pytest.approx(old.curve[name], rel=LOSS_REL, abs=0)
        assert record.curve["train_time_s"] == pytest.approx(old.curve["train_time_s"], rel=0, abs=TIME_STEP / 2)


def test_losses_to_4_digits_times_to_1e4_and_non_finite_kept():
    curve = {"step": [0, 1, 2, 3, 4, 5, 6], "test_acc": [1 / 3] * 7,
             "train_loss": [1 / 3, 0.1, None, math.nan, math.inf, 1e300, -2.0000049e-50],
             "train_time_s": [1.23456789, None, math.nan, -math.inf, 2.0, 0.00004, 7]}
    packed = pack_curve(curve)
    assert packed["step"] == curve["step"] and packed["test_acc"] == curve["test_acc"]
    loss = packed["train_loss"]
    assert loss[0] == 0.3333 and loss[1] == 0.1 and abs(loss[0] - 1 / 3) <= LOSS_REL / 3
    assert loss[2] is None and math.isnan(loss[3]) and loss[4] == math.inf
    assert loss[5:] == [1e300, -2e-50]  # any magnitude, any sign: 4 significant digits
    assert packed["train_time_s"][0] == 1.2346 and packed["train_time_s"][4:] == [2.0, 0.0, 7]
    assert packed["train_time_s"][1] is None and math.isnan(packed["train_time_s"][2])
    record = Record(key="k", identity={"task": "t", "method": "m", "seed": 0}, status="diverged", curve=curve)
    back = decode_line(encode_line(record))
    assert back.curve["train_loss"][2] is None and math.isnan(back.curve["train_loss"][3])
    assert back.curve["train_loss"][4] == math.inf and back.curve["train_time_s"][3] == -math.inf


def test_pack_is_deterministic(made, tmp_path):
    from grokbench.pack import pack_folder

    packs = []
    for name in ("a", "b"):
        copy = shutil.copytree(made, tmp_path / name)
        pack_folder(copy)
        packs.append((Path(copy) / "records" / PACK_NAME).read_bytes())
    assert packs[0] == packs[1]


def test_packing_merges_loose_files_and_the_loose_file_wins(folder):
    from grokbench.pack import pack_folder

    store = Store(folder)
    first, second, *_ = store.records()
    pack_folder(folder)
    newer = Record.from_json({**first.to_json(), "status": "timeout", "trial_timeout_s": 1.0})
    failed = Record.from_json({**second.to_json(), "status": "error", "error": "RuntimeError: boom"})
    store.write(newer)
    store.write(failed)
    by_key = {r.key: r for r in store.records()}
    assert by_key[first.key].status == "timeout" and by_key[first.key].file == f"{first.key}.json.gz"
    assert by_key[second.key].status == "error" and second.key not in store.done_keys()
    summary = pack_folder(folder)
    assert (summary.records, summary.from_files, summary.left_loose) == (3, 1, 1)
    assert sorted(p.name for p in store.records_dir.iterdir()) == sorted([PACK_NAME, f"{second.key}.json.gz"])
    by_key = {r.key: r for r in store.records()}
    assert by_key[first.key].status == "timeout" and by_key[first.key].file.startswith(PACK_NAME)
    assert by_key[second.key].status == "error" and len(by_key) == 4


def test_run_into_a_packed_folder_trains_nothing(folder, tiny_parity, monkeypatch):
    from grokbench.pack import pack_folder

    pack_folder(folder)
    pack = (folder / "records" / PACK_NAME).read_bytes()
    monkeypatch.setattr(cli, "_end_of_run", lambda *a, **k: None)
    assert run_cli(*_run_args(folder, tiny_parity)) == 0
    assert [r["to_run"] for r in Store(folder).runs()] == [4, 0]
    assert [p.name for p in (folder / "records").iterdir()] == [PACK_NAME]
    assert (folder / "records" / PACK_NAME).read_bytes() == pack


def test_leaderboard_of_a_packed_folder_equals_the_same_records_as_files(made, folder, tmp_path, monkeypatch):
    """The page reads a pack as it reads files: the packed folder's page is that of a folder
    holding its records (at the pack's precision) as files. (Run from tmp_path: the page
    names folders relative to the working directory.)"""
    from grokbench.pack import pack_folder

    pack_folder(folder)
    as_files = Path(shutil.copytree(made, tmp_path / "as-files"))
    shutil.rmtree(as_files / "records")
    store = Store(as_files, create=True)
    for record in Store(folder).records():
        store.write(record)
    pages = []
    monkeypatch.chdir(tmp_path)
    for root, out in ((as_files, tmp_path / "page-files"), (folder, tmp_path / "page-pack")):
        grokbench.write_leaderboard(root, out, figures=False)
        text = (out / "README.md").read_text()
        for path, name in ((root, "DIR"), (out, "OUT")):
            text = text.replace(str(path), name).replace(path.name, name)
        pages.append(text)
    assert pages[0] == pages[1] and "sgd" in pages[0]


def test_export_of_a_packed_folder_equals_the_files_within_the_pack_precision(made, folder):
    from grokbench.export import load_export_frame
    from grokbench.pack import pack_folder

    pack_folder(folder)
    files, packed = (load_export_frame(root) for root in (made, folder))
    assert list(packed["record_file"]) == [f"records/{PACK_NAME}#{k}" for k in files["key"]]
    times = ["train_time_s", "t90_time_s", "t95_time_s", "time_to_target_s"]  # from the curve's train_time_s
    rest = [c for c in files.columns if c not in ("record_file", *times)]
    assert files[rest].astype(str).equals(packed[rest].astype(str))
    for column in times:
        np.testing.assert_allclose(packed[column].astype(float), files[column].astype(float), rtol=0,
                                   atol=TIME_STEP / 2)  # missing (not reached) on both sides alike


def test_a_truncated_pack_keeps_what_precedes_the_break(folder, capsys):
    from grokbench.pack import pack_folder

    keys = sorted(r.key for r in Store(folder).records())
    pack_folder(folder)
    pack = folder / "records" / PACK_NAME
    pack.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])
    capsys.readouterr()
    read = [r.key for r in Store(folder).records()]
    assert read == keys[: len(read)] and len(read) < len(keys)
    assert f"{PACK_NAME} breaks after {len(read)} readable record(s)" in capsys.readouterr().err
    assert run_cli("pack", str(folder)) == 2  # packing again would drop what lies beyond the break
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be read whole" in err and "Traceback" not in err
    pack.write_bytes(b"not xz at all\n")
    assert Store(folder).records() == []
    assert "broken xz stream" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing", "not-results", "checkpoints", "live-lock"])
def test_bad_input_is_one_line_and_exit_2(folder, tmp_path, capsys, case):
    import json
    import os

    from grokbench.store import _this_process

    target = {"missing": tmp_path / "none", "not-results": tmp_path}.get(case, folder)
    if case == "checkpoints":
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "cell.pt").write_bytes(b"state")
    if case == "live-lock":
        (folder / "records" / "abc.lock").write_text(json.dumps({**_this_process(), "time": 0}))
    files = sorted(os.listdir(folder / "records"))
    assert run_cli("pack", str(target)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert sorted(os.listdir(folder / "records")) == files


def test_a_pack_stopped_before_or_after_its_write_loses_no_record(folder, monkeypatch):
    from grokbench import pack

    keys = sorted(r.key for r in Store(folder).records())

    def fail(*args, **kwargs):
        raise KeyboardInterrupt  # a kill at that point

    monkeypatch.setattr(pack, "atomic_write_bytes", fail)
    with pytest.raises(KeyboardInterrupt):
        pack.pack_folder(folder)
    assert not (folder / "records" / PACK_NAME).exists()
    assert sorted(r.key for r in Store(folder).records()) == keys
    monkeypatch.undo()
    monkeypatch.setattr(pack, "_remove_unchanged", fail)  # the pack written, no file deleted yet
    with pytest.raises(KeyboardInterrupt):
        pack.pack_folder(folder)
    read = Store(folder).records()
    assert [r.key for r in read] == keys and all(r.file.endswith(".json.gz") for r in read)  # the files win
    monkeypatch.undo()
    assert pack.pack_folder(folder).from_files == 4
    assert [r.key for r in Store(folder).records()] == keys


@pytest.mark.parametrize("bound, message", [("MAX_RECORD_BYTES", "a line longer than"),
                                            ("MAX_PACK_INFLATED_BYTES", "inflates to more than")])
def test_a_pack_beyond_its_bounds_is_refused_not_inflated(folder, monkeypatch, capsys, bound, message):
    from grokbench import packfile
    from grokbench.pack import pack_folder

    pack_folder(folder)
    monkeypatch.setattr(packfile, bound, 1000)
    capsys.readouterr()
    assert Store(folder).records() == []
    assert message in capsys.readouterr().err


def test_a_pack_at_an_older_precision_is_re_encoded_and_a_current_one_left_alone(folder, capsys, monkeypatch):
    from grokbench import packfile

    monkeypatch.setattr(packfile, "LOSS_DIGITS", 9)  # as if packed by an earlier version
    assert run_cli("pack", str(folder)) == 0
    pack = folder / "records" / PACK_NAME
    older = pack.read_bytes()
    monkeypatch.setattr(packfile, "LOSS_DIGITS", 4)
    capsys.readouterr()
    assert run_cli("pack", str(folder)) == 0
    assert "packed 4 records (0 from files)" in capsys.readouterr().out
    current = pack.read_bytes()
    assert current != older
    losses = [v for r in Store(folder).records() for v in r.curve["train_loss"] if v is not None]
    assert losses and all(v == float(f"{v:.4g}") for v in losses)
    assert run_cli("pack", str(folder)) == 0
    assert "nothing to pack" in capsys.readouterr().out and pack.read_bytes() == current
