"""Shared helpers of the benchmarks: the default specs, timing, one JSON line out."""
from __future__ import annotations

import json
import platform
import time
from contextlib import contextmanager

import numpy as np

from cosim.api import DEFAULT_HARDWARE, DEFAULT_WORKLOAD, resolve_path, with_overrides
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload


def default_specs(steps: int, workload: str = DEFAULT_WORKLOAD, hardware: str = DEFAULT_HARDWARE):
    return (with_overrides(load_workload(resolve_path(workload)), steps=steps),
            load_hardware(resolve_path(hardware)))


def best_of(repeat: int, fn) -> float:
    """Smallest wall time of `repeat` calls of fn() (the least disturbed by other load), s."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


@contextmanager
def progress(total: int, label: str):
    """A rich progress bar on stderr (stdout carries only the JSON line)."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def emit(record: dict) -> None:
    record["machine"] = {"python": platform.python_version(), "numpy": np.__version__,
                         "processor": platform.machine()}
    print(json.dumps(record, sort_keys=True))
