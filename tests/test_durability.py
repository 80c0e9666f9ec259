"""Durability, by class: checkpoints that cannot be written or fail their check, locks of
dead runs, odd files in a results folder, non-UTF-8 names. Nothing here races the clock:
ages are set with ``os.utime``, dead processes are pids that cannot exist."""

from __future__ import annotations

import errno
import io
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers import TINY_PARITY, interrupt_after, read_records, run_cli, study_request

from grokbench import checkpoint, store
from grokbench import plan as plan_module
from grokbench.plan import CheckpointPolicy, build_plan
from grokbench.record import CURVE_COLUMNS
from grokbench.spec import parse_overrides
from grokbench.store import Store
from grokbench.trial import run_cell

TINY = ["sparse_parity.n_train=200", "sparse_parity.n_test=100", "sparse_parity.max_epochs=8",
        "sparse_parity.batch_size=64"]
UNTIMED = [c for c in CURVE_COLUMNS if c != "train_time_s"]
HOUR_AGO = time.time() - 3600


def _cell(method: str = "adamw", seeds: str = "2", folder: Path | None = None):
    (cell,) = build_plan("sparse_parity", method, seeds, parse_overrides(TINY)).cells(set(), 64)
    return replace(cell, checkpoint=CheckpointPolicy(str(folder), every_s=0)) if folder else cell


def _curves(records) -> dict[str, dict]:
    return {r.key: {c: r.curve[c] for c in UNTIMED} | {"status": r.status} for r in records}


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


# ------------------------------------------------- 1. a checkpoint that cannot be written

def _file_in_the_way(tmp_path, monkeypatch) -> Path:
    (tmp_path / "ckpt").write_text("a file, not a folder")
    return tmp_path / "ckpt"


def _name_too_long(tmp_path, monkeypatch) -> Path:
    return tmp_path / ("c" * 300)  # ENAMETOOLONG from mkdir, a real error


def _disk_fills_mid_write(tmp_path, monkeypatch) -> Path:
    def partial_save(state, f):
        f.write(b"\0" * 1000)  # some bytes reach the temporary file, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint.torch, "save", partial_save)
    return tmp_path / "ckpt"


def _folder_refuses_files(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "ckpt"
    real_open = open

    def read_only(path, *args, **kwargs):  # a read-only folder, also when the tests run as root
        if Path(path).parent == folder:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "open", read_only, raising=False)
    return folder


def _unpicklable_state(tmp_path, monkeypatch) -> Path:
    fields = checkpoint._track_fields
    monkeypatch.setattr(checkpoint, "_track_fields", lambda track: {**fields(track), "hook": lambda: None})
    return tmp_path / "ckpt"


@pytest.mark.parametrize("fault", [_file_in_the_way, _name_too_long, _disk_fills_mid_write,
                                   _folder_refuses_files, _unpicklable_state])
def test_a_checkpoint_that_cannot_be_written_warns_once_and_training_goes_on(fault, tmp_path, monkeypatch,
                                                                             capsys):
    whole = _curves(run_cell(_cell()))
    monkeypatch.setattr(checkpoint, "_warned_folders", set())
    records = list(run_cell(_cell(folder=fault(tmp_path, monkeypatch))))  # saves at every evaluation
    assert _curves(records) == whole  # no `error` record: the same trials as without checkpoints
    warnings = [ln for ln in capsys.readouterr().err.splitlines() if "cannot save checkpoints" in ln]
    assert len(warnings) == 1 and "training goes on without them" in warnings[0]
    assert _temporaries(tmp_path) == []  # a partial .pt.tmp is removed


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_checkpoint_folder_is_a_warning(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    folder.mkdir(mode=0o500)
    records = list(run_cell(_cell(folder=folder)))
    assert {r.status for r in records} != {"error"} and "cannot save checkpoints" in capsys.readouterr().err


def test_run_with_an_unwritable_checkpoint_folder_exits_0_with_every_record(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    (out / "records").mkdir(parents=True)
    (out / "checkpoints").write_text("in the way")
    args = ["run", study_request(out, "adam", "3", TINY_PARITY, baseline=False), "--quiet", "--no-calibrate"]
    monkeypatch.setattr(plan_module, "DEFAULT_CHECKPOINT_S", 1e-9)
    assert run_cli(*args) == 0
    assert len(read_records(out)) == 3 and all(r["status"] != "error" for r in read_records(out))
    assert capsys.readouterr().err.count("cannot save checkpoints") == 1


# ------------------------------------------------ 2. a checkpoint that fails its check

def _flip_a_parameter_bit(pt: Path) -> None:
    """Flip one bit inside a parameter tensor's bytes: torch still loads the payload, with
    changed weights, so only the checksum can tell."""
    data = bytearray(pt.read_bytes())
    saved = torch.load(io.BytesIO(checkpoint.read_payload(pt)), weights_only=False)
    raw = next(iter(saved["params"].values())).numpy().tobytes()[:64]
    at = data.index(raw) + 3
    data[at] ^= 0x10
    flipped = bytes(data[checkpoint._HEADER_BYTES:])
    reloaded = torch.load(io.BytesIO(flipped), weights_only=False)
    assert not torch.equal(next(iter(reloaded["params"].values())), next(iter(saved["params"].values())))
    pt.write_bytes(bytes(data))


def _flip_a_header_bit(pt: Path) -> None:
    data = bytearray(pt.read_bytes())
    data[40] ^= 0x01
    pt.write_bytes(bytes(data))


def _cut_the_last_byte(pt: Path) -> None:
    pt.write_bytes(pt.read_bytes()[:-1])


def _append_a_byte(pt: Path) -> None:
    pt.write_bytes(pt.read_bytes() + b"\n")


def _same_size_of_noise(pt: Path) -> None:
    pt.write_bytes(torch.randint(0, 256, (pt.stat().st_size,), generator=torch.Generator().manual_seed(5),
                                 dtype=torch.uint8).numpy().tobytes())


def _old_format_without_checksum(pt: Path) -> None:  # format 1: torch.save alone
    torch.save(torch.load(io.BytesIO(checkpoint.read_payload(pt)), weights_only=False), pt)


def _a_fifo(pt: Path) -> None:
    pt.unlink()
    os.mkfifo(pt)


@pytest.mark.parametrize("damage", [_flip_a_parameter_bit, _flip_a_header_bit, _cut_the_last_byte, _append_a_byte,
                                    _same_size_of_noise, _old_format_without_checksum, _a_fifo])
def test_a_checkpoint_failing_its_check_is_discarded_and_the_trials_start_afresh(damage, tmp_path, capsys):
    whole = _curves(run_cell(_cell()))
    cell = _cell(folder=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        list(run_cell(cell, interrupt_after(3)))
    (pt,) = tmp_path.glob("*.pt")
    damage(pt)
    capsys.readouterr()
    records = list(run_cell(cell))
    assert _curves(records) == whole and all("resumed_at_steps" not in r.environment for r in records)
    err = capsys.readouterr().err
    assert f"discarding checkpoint {pt}" in err and "start afresh" in err
    assert list(tmp_path.iterdir()) == []  # discarded, and nothing saved since (the cell finished)


def test_a_failing_checkpoint_gives_way_to_an_older_good_one(tmp_path, capsys):
    wide = _cell(seeds="3", folder=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        list(run_cell(wide, interrupt_after(4)))  # saved at step 12 for seeds 0-2
    narrow = _cell(seeds="1-2", folder=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        list(run_cell(narrow, interrupt_after(2)))  # resumed at 12, saved its own at 20
    own = tmp_path / f"{checkpoint.checkpoint_name(narrow.keys())}.pt"
    _cut_the_last_byte(own)
    records = list(run_cell(narrow))
    assert [r.environment["resumed_at_steps"] for r in records] == [[12], [12]]
    assert f"discarding checkpoint {own}" in capsys.readouterr().err


def test_a_good_checkpoint_passes_its_check():
    buffer = io.BytesIO()
    checkpoint._write_checked(buffer, {"x": torch.arange(5)})
    header = checkpoint._HEADER.fullmatch(buffer.getvalue()[:checkpoint._HEADER_BYTES])
    assert header is not None and int(header[2]) == len(buffer.getvalue()) - checkpoint._HEADER_BYTES


# ------------------------------------------------------------------------ 3. locks

def _impossible_pid() -> int:
    try:
        return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    except OSError:
        return 2**22 + 1  # above Linux's largest pid_max


def _lock(records: Path, key: str, content: str, mtime: float | None = None) -> Path:
    lock = records / f"{key}.lock"
    lock.write_text(content)
    if mtime is not None:
        os.utime(lock, (mtime, mtime))
    return lock


def _here(pid: int, **changes) -> str:
    info = {"host": socket.gethostname(), "pid": pid, "start": store._start_time(pid),
            "boot": store._this_process()["boot"], "time": 0}
    return json.dumps({**info, **changes})


STALE = {
    "dead_pid": lambda: (_here(_impossible_pid()), None),
    "pid_reused": lambda: (_here(os.getppid(), start="1"), None),  # a live pid, but another process
    "rebooted": lambda: (_here(os.getppid(), boot="00000000-old-boot"), None),
    "empty_old": lambda: ("", HOUR_AGO),
    "garbage_old": lambda: ("{\"host\": [", HOUR_AGO),
    "pid_zero_old": lambda: (_here(0), HOUR_AGO),
}
LIVE = {
    "live_process": lambda: (_here(os.getppid()), None),
    "empty_fresh": lambda: ("", time.time() + 3600),  # younger than any grace, however slow the machine
    "other_host": lambda: (_here(_impossible_pid(), host="elsewhere.example"), None),
}


@pytest.mark.parametrize("case", sorted(STALE))
def test_a_stale_lock_is_taken_over(case, tmp_path):
    s = Store(tmp_path, create=True)
    _lock(s.records_dir, "k1", *STALE[case]())
    claimed, held = s.claim(["k1", "k2"])
    assert claimed == {"k1", "k2"} and held == {}
    assert json.loads((s.records_dir / "k1.lock").read_text())["pid"] == os.getpid()
    assert _temporaries(tmp_path) == []


@pytest.mark.parametrize("case", sorted(LIVE))
def test_a_live_lock_is_respected(case, tmp_path):
    s = Store(tmp_path, create=True)
    content, mtime = LIVE[case]()
    lock = _lock(s.records_dir, "k1", content, mtime)
    claimed, held = s.claim(["k1", "k2"])
    assert claimed == {"k2"} and list(held) == ["k1"]
    assert lock.read_text() == content
    Store(tmp_path, create=True)  # the start-of-run cleanup keeps it too
    assert lock.read_text() == content


def test_a_run_takes_over_an_empty_lock_left_by_a_kill(tmp_path):
    out = tmp_path / "out"
    (out / "records").mkdir(parents=True)
    from grokbench.api import prepare

    plan, _ = prepare("sparse_parity", "sgd", "3", out, overrides=TINY_PARITY[1::2], device="cpu")
    for key in plan.keys():
        _lock(out / "records", key, "", HOUR_AGO)
    assert run_cli("run", "--methods", "sgd", "--seeds", "3", "--out", str(out), "--quiet", "--no-calibrate",
                   *TINY_PARITY) == 0
    assert len(read_records(out)) == 3 and list((out / "records").glob("*.lock")) == []


# ------------------------------------------------------- 4. odd files; stale files cleaned

def _odd_files(records: Path) -> None:
    os.mkfifo(records / "pipe.json")
    (records / "zeros.json").symlink_to("/dev/zero")
    (records / "folder.json").mkdir()
    with open(records / "huge.json", "wb") as f:
        f.truncate(10 * 2**30)  # sparse: no disk used
    os.mkfifo(records / "0123.lock")  # a FIFO named like a lock


def test_odd_files_in_records_are_skipped_with_a_warning_naming_each(tmp_path):
    out = tmp_path / "out"
    assert run_cli("run", "--methods", "sgd", "--seeds", "2", "--out", str(out), "--quiet", "--no-calibrate",
                   *TINY_PARITY) == 0
    _odd_files(out / "records")
    os.unlink(out / "runs.jsonl")
    os.mkfifo(out / "runs.jsonl")
    for command, odd in ((["report", str(out), "--format", "json"], ()),
                         (["leaderboard", str(out)], ("runs.jsonl",))):
        proc = subprocess.run([sys.executable, "-m", "grokbench", *command], capture_output=True, text=True,
                              timeout=300)  # a safety net against a hang, far above the seconds it takes
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        for name in ("pipe.json", "zeros.json", "folder.json", "huge.json", *odd):
            assert any(name in line and "warning: skipping" in line for line in proc.stderr.splitlines()), name
        if command[0] == "report":
            assert len(json.loads(proc.stdout)) == 2


def test_resume_skips_odd_files_and_a_fifo_runs_log_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "records").mkdir(parents=True)
    _odd_files(out / "records")
    args = ["run", "--methods", "sgd", "--seeds", "2", "--out", str(out), "--quiet", "--no-calibrate", *TINY_PARITY]
    assert run_cli(*args) == 0
    assert "warning: skipping" in capsys.readouterr().err
    os.mkfifo(out / "runs.jsonl.new")
    os.replace(out / "runs.jsonl.new", out / "runs.jsonl")
    assert run_cli(*args, "--seeds", "3") == 2
    err = capsys.readouterr().err
    assert "runs.jsonl" in err and "not a regular file" in err and "Traceback" not in err


def _checkpoint_files(folder: Path, name: str, keys: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"format": checkpoint.FORMAT, "step": 4, "keys": keys}))
    (folder / f"{name}.pt").write_bytes(b"state")


def test_stale_files_are_cleaned_at_the_start_of_a_run_and_live_ones_kept(tmp_path):
    out = tmp_path / "out"
    args = ["run", "--methods", "sgd", "--seeds", "2", "--out", str(out), "--quiet", "--no-calibrate", *TINY_PARITY]
    assert run_cli(*args) == 0
    finals = sorted(r["key"] for r in read_records(out))
    records, ckpt = out / "records", out / "checkpoints"
    (records / ".x.json.99.tmp").write_text("{")  # a write killed an hour ago
    os.utime(records / ".x.json.99.tmp", (HOUR_AGO, HOUR_AGO))
    (records / ".y.json.98.tmp").write_text("{")  # a live write
    _lock(records, "gone", _here(_impossible_pid()))
    _lock(records, "alive", _here(os.getppid()))
    _checkpoint_files(ckpt, "final", finals)
    _checkpoint_files(ckpt, "training", [finals[0], "not-finished"])
    (ckpt / ".z.pt.97.tmp").write_bytes(b"")
    os.utime(ckpt / ".z.pt.97.tmp", (HOUR_AGO, HOUR_AGO))
    assert run_cli(*args) == 0  # nothing to train: cleaning alone
    assert sorted(p.name for p in records.iterdir() if not p.name.endswith((".json", ".json.gz"))) == [".y.json.98.tmp",
                                                                                          "alive.lock"]
    assert sorted(p.name for p in ckpt.iterdir()) == ["training.json", "training.pt"]


# ----------------------------------------------------------------- 5. non-UTF-8 names

@pytest.mark.parametrize("raw", [b"r\xe9sultats", b"out\xc3(", b"\x80\xfe"])
def test_non_utf8_output_paths_are_shown_escaped(raw, tmp_path, capsys):
    out = tmp_path / os.fsdecode(raw)
    shown = raw.decode("utf-8", "backslashreplace")
    assert run_cli("run", "--methods", "sgd", "--seeds", "1", "--out", str(out), "--quiet", "--no-calibrate",
                   *TINY_PARITY) == 0
    assert run_cli("report", str(out)) == 0
    assert run_cli("leaderboard", str(out)) == 0
    captured = capsys.readouterr()
    assert f"results: {tmp_path}/{shown}" in captured.err and "Traceback" not in captured.err
    assert os.path.isdir(os.fsencode(tmp_path) + b"/" + raw + b"/records")  # the real name on disk
    page = (out / "leaderboard" / "README.md").read_bytes().decode("utf-8")  # valid UTF-8
    assert "\\udc" not in page
