"""Where a trial runs: the device, its clock, and what a record says of both.

Clock. ``PeriodClock`` times one span of training at a time (``start()``, then ``stop()``
-> ``Period``). On CUDA it records a CUDA event on the device's current stream at
``start`` and another at ``stop``, waits for the second, and reports the device time
between them (which includes any gap in which the device waited for the host). Elsewhere
it reads ``time.perf_counter`` after synchronizing the device. Either way ``stop`` returns
only once the timed work is done. Next to the wall seconds a ``Period`` holds this
process's CPU seconds over the same span (``time.process_time``, every thread of the
process) and the 1-minute load average at its end, so a record can say whether its
seconds were taken on a busy machine.

Memory. ``reset_peak_memory`` starts a new high-water mark (device memory on CUDA; the
resident set on Linux, through ``/proc/self/clear_refs``); ``peak_memory`` reads it.
``keep_freed_memory`` (glibc) keeps freed blocks in the process, so that the training loop
does not fault its per-step tensors back in from the OS.

Every CUDA call goes through the ``cuda`` argument (default ``torch.cuda``), so the logic
can be checked on a machine without a GPU by passing a stand-in.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import resource
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

MIB = 2**20


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def synchronize(device: torch.device, cuda: Any = None) -> None:
    """Wait for the device's queued work, so that a clock read that follows is honest."""
    if device.type == "cuda":
        (cuda or torch.cuda).synchronize(device)


def cpus_available() -> int:
    """Cores this process may use (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def load_average() -> float | None:
    """The 1-minute load average (runnable threads, averaged), None where unavailable."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class Period:
    """One timed span. wall_s: seconds of the timed work (device time on CUDA); cpu_s:
    this process's CPU seconds over the span; load1: 1-minute load average at its end."""

    wall_s: float
    cpu_s: float
    load1: float | None


def clock_name(device: torch.device) -> str:
    """What a ``PeriodClock`` on ``device`` measures with: ``cuda_event`` or ``perf_counter``."""
    return "cuda_event" if device.type == "cuda" else "perf_counter"


class PeriodClock:
    """Times one span at a time on ``device``: ``start()``, run the work, ``stop()``."""

    def __init__(self, device: torch.device, cuda: Any = None) -> None:
        self.device = device
        self.uses_events = device.type == "cuda"
        self._cuda = cuda if cuda is not None else torch.cuda
        self._t0 = self._cpu0 = 0.0
        self._start_event: Any = None

    @property
    def name(self) -> str:
        return clock_name(self.device)

    def start(self) -> None:
        if self.uses_events:
            self._start_event = self._cuda.Event(enable_timing=True)
            self._start_event.record(self._cuda.current_stream(self.device))
        else:
            synchronize(self.device, self._cuda)
            self._t0 = time.perf_counter()
        self._cpu0 = time.process_time()

    def stop(self) -> Period:
        """The span since ``start``; returns once the device has finished it."""
        if self.uses_events:
            end = self._cuda.Event(enable_timing=True)
            end.record(self._cuda.current_stream(self.device))
            end.synchronize()
            wall = self._start_event.elapsed_time(end) / 1000.0  # milliseconds -> seconds
        else:
            synchronize(self.device, self._cuda)
            wall = time.perf_counter() - self._t0
        return Period(wall, time.process_time() - self._cpu0, load_average())


# ------------------------------------------------------------------------------ memory

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peak_memory(device: torch.device, cuda: Any = None) -> str:
    """Start new high-water marks; returns the scope ``peak_memory`` then reports for the
    resident set: ``since_reset`` where Linux allows the reset, else ``process`` (the
    whole process's life so far)."""
    if device.type == "cuda":
        (cuda or torch.cuda).reset_peak_memory_stats(device)
    try:
        _CLEAR_REFS.write_text("5")  # 5: reset the peak RSS only (proc(5))
        return "since_reset"
    except OSError:
        return "process"


# glibc's mallopt parameters (malloc.h) and the values set: blocks up to 32 MiB (glibc's
# largest mmap threshold) come from the heap, and up to 1 GiB of freed heap stays mapped.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
HEAP_MMAP_THRESHOLD = 32 * MIB
HEAP_TRIM_THRESHOLD = 1024 * MIB


def keep_freed_memory() -> bool:
    """Hand the heap's free memory back to the OS now (``malloc_trim``), then have glibc's
    malloc keep freed blocks in the process instead of unmapping them (``mallopt``).

    A seed-batched step allocates and frees the same multi-megabyte tensors every step;
    without this, glibc returns many of them to the OS and the next step faults the pages
    back in, zeroed: 0.1-1.2 s of system time in a 256-seed sparse-parity cell on a 2-core
    AMD EPYC (benchmarks/README.md, issue #28, third round), varying from process to process.
    Call it before ``reset_peak_memory`` so that a cell's peak resident set does not include
    memory freed by earlier cells. What is computed is unchanged. Returns whether it applied
    (False where the C library has no ``mallopt``/``malloc_trim``, i.e. not glibc)."""
    try:
        libc = ctypes.CDLL(None)
        trim, mallopt = libc.malloc_trim, libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    trim(0)
    return bool(mallopt(_M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD,
                                                                                  HEAP_TRIM_THRESHOLD))


def _peak_rss_mb() -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (MIB if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, kB elsewhere


def peak_memory(device: torch.device, cuda: Any = None) -> dict[str, float | None]:
    """``peak_rss_mb`` (this process's resident set) and, on CUDA, ``peak_device_mem_mb``
    (tensors allocated by torch), both since the last ``reset_peak_memory``."""
    out: dict[str, float | None] = {"peak_rss_mb": _peak_rss_mb()}
    if device.type == "cuda":
        out["peak_device_mem_mb"] = round((cuda or torch.cuda).max_memory_allocated(device) / MIB, 1)
    return out


# ------------------------------------------------------------------------- description


def cpu_name() -> str:
    """The CPU's model name and core count, e.g. 'AMD EPYC 7B13 (2 cores)'."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


# "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  ..." or, for the open module,
# "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build ..."
_DRIVER_VERSION = re.compile(r"Kernel Module\b.*?\s(\d+\.\d+(?:\.\d+)*)(?:\s|$)")


def nvidia_driver(cuda: Any = None, version_file: Path = Path("/proc/driver/nvidia/version")) -> str | None:
    """The NVIDIA kernel driver's version (e.g. '550.54.15'), else the CUDA driver API
    version torch reports (e.g. 'cuda-api 12040'), else None."""
    try:
        found = _DRIVER_VERSION.search(version_file.read_text().splitlines()[0])
        if found:
            return found.group(1)
    except (OSError, IndexError):
        pass
    get = getattr(getattr(torch, "_C", None), "_cuda_getDriverVersion", None)
    try:
        return f"cuda-api {get()}" if get is not None else None
    except RuntimeError:
        return None


def device_label(env: dict[str, Any]) -> str:
    """'cuda (NVIDIA H200)': a record environment's device and its name."""
    return f"{env.get('device')} ({env.get('device_name')})"


def describe_cuda(device: torch.device, cuda: Any = None) -> dict[str, Any]:
    """Name, memory, compute capability, CUDA runtime and driver of a CUDA device."""
    cuda = cuda or torch.cuda
    props = cuda.get_device_properties(device)
    return {
        "device_name": props.name,
        "device_memory_mb": round(props.total_memory / MIB),
        "capability": f"{props.major}.{props.minor}",
        "cuda": torch.version.cuda,
        "driver": nvidia_driver(cuda),
    }


def describe(device: torch.device, cuda: Any = None) -> dict[str, Any]:
    """The ``environment`` fields of a record run on ``device`` in this process."""
    out: dict[str, Any] = {
        "device": str(device),
        "device_name": cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": cpus_available(),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "pid": os.getpid(),
        "clock": clock_name(device),
    }
    if device.type == "cuda":
        out.update(describe_cuda(device, cuda))
    return out
