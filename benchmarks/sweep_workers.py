"""Speed-up of a sweep on 2 local worker processes over 1, on the same 8 points.

    python benchmarks/sweep_workers.py [--steps 100]

Prints one JSON line: wall times, speed-up, whether both runs gave identical results, the mean
time one point took inside its worker (if it grows with 2 workers, the cores were not free), and
the machine's core count and load (the speed-up is bounded by free cores, not by the sweep).
By default one worker gets all cores' BLAS threads and two share them, as `cosim sweep` does;
`speedup_same_blas` compares against one worker with one BLAS thread, isolating the pool.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cosim.report.sweep_table import finished_points, load_table  # noqa: E402
from cosim.sweep import run_sweep  # noqa: E402

SWEEP = """name: bench_sweep_workers
workload: {root}/workloads/digits_mlp.yaml
hardware: {root}/hardware_specs/rram_180nm.yaml
steps: {steps}
methods: [eapu]
seeds: [0, 1]
grid:
  hardware.device.write_noise: [0.01, 0.02, 0.03, 0.04]
"""


def timed_sweep(path: Path, out: Path, workers: int, blas_threads: int | None = None) -> float:
    started = time.perf_counter()
    outcome = run_sweep(path, out, workers=workers, report=False, blas_threads=blas_threads)
    assert outcome.ran == 8 and not outcome.errors, outcome
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="training steps per point")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "sweep.yaml"
        path.write_text(SWEEP.format(root=ROOT, steps=args.steps))
        load_before = os.getloadavg()[0]
        wall = {n: timed_sweep(path, tmp / f"w{n}", n) for n in (1, 2)}
        wall_1_single_blas = timed_sweep(path, tmp / "w1b1", 1, blas_threads=1)
        point_s = {n: sum(p["wall_s"] for p in finished_points(tmp / f"w{n}").values()) / 8 for n in (1, 2)}
        identical = load_table(tmp / "w1").sort_values("point").reset_index(drop=True).equals(
            load_table(tmp / "w2").sort_values("point").reset_index(drop=True))
    print(json.dumps({"benchmark": "sweep_workers", "points": 8, "steps_per_point": args.steps,
                      "wall_s_1_worker": round(wall[1], 2), "wall_s_2_workers": round(wall[2], 2),
                      "speedup": round(wall[1] / wall[2], 2), "identical_results": identical,
                      "wall_s_1_worker_1_blas_thread": round(wall_1_single_blas, 2),
                      "speedup_same_blas": round(wall_1_single_blas / wall[2], 2),
                      "point_s_mean_1_worker": round(point_s[1], 2),
                      "point_s_mean_2_workers": round(point_s[2], 2),
                      "cores": os.cpu_count(), "load_avg_1min_before": round(load_before, 2),
                      "load_avg_1min_after": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
