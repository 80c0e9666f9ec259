"""The trial clock and what records say about their seconds: CUDA logic with the device
calls stubbed, the apportioning rule with a fake clock, load flags, and the real CUDA path
where a GPU is present."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

from grokbench import environment
from grokbench import trial as trial_module
from grokbench.plan import build_plan
from grokbench.record import BadRecord, Record, to_row, under_load
from grokbench.spec import parse_overrides
from grokbench.trial import run_cell

TINY = ["sparse_parity.n_train=200", "sparse_parity.n_test=100", "sparse_parity.max_epochs=3"]


class FakeCuda:
    """Stands in for torch.cuda: events whose elapsed time is fixed, and a call log."""

    def __init__(self, elapsed_ms: float = 250.0) -> None:
        self.calls: list[str] = []
        self.elapsed_ms = elapsed_ms
        fake = self

        class Event:
            def __init__(self, enable_timing: bool = False) -> None:
                assert enable_timing
                self.recorded_on = None

            def record(self, stream=None) -> None:
                self.recorded_on = stream
                fake.calls.append("record")

            def synchronize(self) -> None:
                fake.calls.append("event.synchronize")

            def elapsed_time(self, end) -> float:
                assert self.recorded_on is not None and end.recorded_on is not None
                fake.calls.append("elapsed_time")
                return fake.elapsed_ms

        self.Event = Event

    def current_stream(self, device):
        return f"stream of {device}"

    def synchronize(self, device=None) -> None:
        self.calls.append("synchronize")

    def reset_peak_memory_stats(self, device=None) -> None:
        self.calls.append("reset_peak")

    def max_memory_allocated(self, device=None) -> int:
        return 3 * environment.MIB

    def get_device_properties(self, device):
        return SimpleNamespace(name="Fake GPU", total_memory=80 * 2**30, major=9, minor=0)


def test_cuda_clock_reads_events_after_waiting_for_the_end_event():
    cuda = FakeCuda(elapsed_ms=250.0)
    clock = environment.PeriodClock(torch.device("cuda"), cuda=cuda)
    clock.start()
    period = clock.stop()
    assert clock.name == "cuda_event"
    assert period.wall_s == pytest.approx(0.25)
    assert cuda.calls == ["record", "record", "event.synchronize", "elapsed_time"]


def test_cpu_clock_uses_perf_counter_and_no_device_call():
    cuda = FakeCuda()
    clock = environment.PeriodClock(torch.device("cpu"), cuda=cuda)
    clock.start()
    end = time.perf_counter() + 0.05
    while time.perf_counter() < end:  # busy: CPU time accrues too
        pass
    period = clock.stop()
    assert clock.name == "perf_counter" and cuda.calls == []
    assert period.wall_s >= 0.05 and period.cpu_s > 0.0


def test_cuda_memory_and_description_come_from_the_device():
    cuda = FakeCuda()
    device = torch.device("cuda")
    environment.reset_peak_memory(device, cuda=cuda)
    assert "reset_peak" in cuda.calls
    assert environment.peak_memory(device, cuda=cuda)["peak_device_mem_mb"] == 3.0
    env = environment.describe(device, cuda=cuda)
    assert env["device_name"] == "Fake GPU" and env["capability"] == "9.0"
    assert env["device_memory_mb"] == 80 * 1024 and env["clock"] == "cuda_event"


@pytest.mark.parametrize("line, version", [
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024", "550.54.15"),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (dvs-builder@U22)",
     "580.159.04"),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  535.104", "535.104"),
])
def test_driver_version_is_read_from_either_kernel_module_line(tmp_path, line, version):
    version_file = tmp_path / "version"
    version_file.write_text(line + "\nGCC version:  gcc version 12.3.0\n")
    assert environment.nvidia_driver(version_file=version_file) == version


def test_cpu_peak_memory_is_reported():
    assert environment.peak_memory(torch.device("cpu"))["peak_rss_mb"] > 0


# Three 24 MiB blocks allocated, written and freed, five times over: the freed heap top (72
# MiB) is above glibc's default trim threshold, so by default every round faults the pages
# back in; after keep_freed_memory they stay mapped. Prints the pages faulted per page written.
_REALLOC_ROUNDS = """
import ctypes, resource
from grokbench import environment
if not environment.keep_freed_memory():
    raise SystemExit(3)
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
size = 24 << 20
def round_():
    blocks = [libc.malloc(size) for _ in range(3)]
    for b in blocks:
        ctypes.memset(b, 1, size)
    for b in blocks:
        libc.free(b)
round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    round_()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) * resource.getpagesize() / (15 * size))
"""


def test_freed_blocks_stay_mapped_after_keep_freed_memory():
    """In a fresh process (the setting lasts for the process): reallocating freed blocks
    faults (almost) no pages back in; skipped where the C library is not glibc."""
    done = subprocess.run([sys.executable, "-c", _REALLOC_ROUNDS], capture_output=True, text=True, timeout=120)
    if done.returncode == 3:
        pytest.skip("no glibc mallopt/malloc_trim here")
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 0.05


class FixedClock:
    """Every training period lasts 1 s, with 0.5 CPU s, at load 99."""

    def __init__(self, device) -> None:
        self.name = "fixed"

    def start(self) -> None:
        pass

    def stop(self) -> environment.Period:
        return environment.Period(1.0, 0.5, 99.0)


def _records(monkeypatch, methods="sgd", seeds="2"):
    monkeypatch.setattr(trial_module.environment, "PeriodClock", FixedClock)
    plan = build_plan("sparse_parity", methods, seeds, parse_overrides(TINY))
    return [r for cell in plan.cells(set(), 64) for r in run_cell(cell)]


def test_each_period_is_split_equally_and_recorded_whole(monkeypatch):
    records = _records(monkeypatch)
    assert [r.status for r in records] == ["unsolved", "unsolved"]  # both train the whole budget
    for r in records:
        periods = len(r.curve["step"]) - 1  # evaluations after step 0
        t = r.timing
        assert t["clock"] == "fixed" and t["steps"] == r.curve["step"][-1]
        assert t["periods_wall_s"] == pytest.approx(periods)
        assert r.metrics["train_time_s"] == pytest.approx(periods / 2)  # two seeds share each period
        assert t["mean_batch_width"] == 2 and t["cpu_per_wall"] == pytest.approx(0.5)
        assert t["load1_max"] == 99.0 and under_load(r) is (99.0 > r.environment["cpus"])
        assert t["peak_rss_mb"] > 0


def test_timing_does_not_change_the_curve(monkeypatch):
    real = {r.seed: r.curve for r in run_cell(build_plan("sparse_parity", "sgd", "2",
                                                         parse_overrides(TINY)).cells(set(), 64)[0])}
    fixed = {r.seed: r.curve for r in _records(monkeypatch)}
    for seed, curve in real.items():
        assert {k: v for k, v in curve.items() if k != "train_time_s"} == \
               {k: v for k, v in fixed[seed].items() if k != "train_time_s"}


def _record(**timing) -> Record:
    return Record(key="k", identity={"task": "t", "method": "m", "seed": 0}, status="solved",
                  environment={"cpus": 2, "device": "cpu", "batched_seeds": 4}, timing=timing)


def test_load_flag_compares_the_load_with_the_cores():
    assert under_load(_record(load1_max=3.5)) is True
    assert under_load(_record(load1_max=1.5)) is False
    assert under_load(_record()) is None
    row = to_row(_record(load1_max=3.5, steps=10))
    assert row["under_load"] is True and row["steps_timed"] == 10 and len(row["calibration_key"]) == 16


def test_timing_round_trips_and_must_be_an_object():
    data = _record(load1_max=1.0, clock="perf_counter").to_json()
    assert Record.from_json(data).timing == {"load1_max": 1.0, "clock": "perf_counter"}
    data["timing"] = [1, 2]
    with pytest.raises(BadRecord, match="timing"):
        Record.from_json(data)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_real_cuda_clock_and_records():
    device = torch.device("cuda")
    a = torch.randn(4096, 4096, device=device)
    a = a @ a / 4096  # the first product creates the cuBLAS handle: an idle gap the events would count
    clock = environment.PeriodClock(device)
    clock.start()
    for _ in range(20):
        a = a @ a / 4096
    by_events = clock.stop().wall_s
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        a = a @ a / 4096
    torch.cuda.synchronize()
    by_host = time.perf_counter() - t0
    assert by_events > 0 and by_events == pytest.approx(by_host, rel=0.5)
    plan = build_plan("sparse_parity", "sgd", "2", parse_overrides(TINY), device="cuda")
    for r in run_cell(plan.cells(set(), 64)[0]):
        assert r.timing["clock"] == "cuda_event" and r.timing["peak_device_mem_mb"] > 0
        assert r.metrics["train_time_s"] > 0
        assert re.fullmatch(r"\d+(\.\d+)+|cuda-api \d+", r.environment["driver"])
