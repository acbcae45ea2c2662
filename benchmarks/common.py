"""Shared helpers of the benchmarks: the default specs, timing, profiling, one JSON line out."""
from __future__ import annotations

import cProfile
import json
import os
import platform
import pstats
import time
from contextlib import contextmanager

import numpy as np

from cosim.api import DEFAULT_HARDWARE, DEFAULT_WORKLOAD, with_overrides
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload


def default_specs(steps: int, workload: str = DEFAULT_WORKLOAD, hardware: str = DEFAULT_HARDWARE):
    return (with_overrides(load_workload(workload), steps=steps),
            load_hardware(hardware))


def best_of(repeat: int, fn) -> dict:
    """Smallest wall and CPU (process) time of `repeat` calls of fn(), s. On a shared machine
    wall time swings with other load; CPU time of a single-threaded run much less."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return {"wall_s": min(wall), "cpu_s": min(cpu)}


@contextmanager
def progress(total: int, label: str):
    """A rich progress bar on stderr (stdout carries only the JSON line)."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


# Where the co-simulation machinery (not the training numerics) lives.
MACHINERY = ("simpy/", "cosim/hardware/", "cosim/sim/ledger.py", "cosim/sim/clock.py", "cosim/costs/")


def machinery_share(fn) -> float:
    """Fraction of fn()'s profiled time spent inside SimPy, the chip components, costs and the
    ledger (own time of their functions; cProfile inflates Python-heavy code, so this is an
    upper bound)."""
    profile = cProfile.Profile()
    profile.runcall(fn)
    stats = pstats.Stats(profile).stats
    total = sum(v[2] for v in stats.values())
    inside = sum(v[2] for (path, _, _), v in stats.items() if any(m in path for m in MACHINERY))
    return inside / total


def blas_threads() -> list[int]:
    """Threads of each BLAS/OpenMP pool numpy actually loaded."""
    from threadpoolctl import threadpool_info
    return [pool["num_threads"] for pool in threadpool_info()]


def emit(record: dict) -> None:
    record["machine"] = {"python": platform.python_version(), "numpy": np.__version__,
                         "processor": platform.machine(), "cpus": os.cpu_count(),
                         "blas_threads": blas_threads(),
                         "load_average_1min": os.getloadavg()[0]}
    print(json.dumps(record, sort_keys=True))
