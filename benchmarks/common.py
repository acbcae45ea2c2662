"""Shared helpers of the benchmarks: the default specs, timing, profiling, one JSON line out.

BLAS runs single-threaded unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say otherwise: on a
shared 2-core machine threaded BLAS spins against other load and was up to 100x slower on the
small products a training step makes (see RESULTS.md). It must be set before numpy loads.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import cProfile  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402

import numpy as np  # noqa: E402

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


def emit(record: dict) -> None:
    record["machine"] = {"python": platform.python_version(), "numpy": np.__version__,
                         "processor": platform.machine(), "cpus": os.cpu_count(),
                         "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
                         "load_average_1min": os.getloadavg()[0]}
    print(json.dumps(record, sort_keys=True))
