"""One line naming the machine a benchmark ran on: CPU model, torch, threads, load average."""

from __future__ import annotations

import os

import torch

from grokbench.environment import cpu_name, load_average


def machine_line(load_only: bool = False) -> str:
    """'CPU: AMD EPYC (2 cores), torch 2.13.0+cpu, 1 thread(s), OMP_NUM_THREADS=1, load1 0.52'."""
    load = f"load1 {load_average():.2f}" if load_average() is not None else "load1 n/a"
    if load_only:
        return load
    return (f"CPU: {cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, {load}")
