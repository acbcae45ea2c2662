"""`python -m benchmarks.instructions`: machine instructions per training step (valgrind's
callgrind), on this code and on baseline revisions; one JSON line per case and method.

Why: on a shared VM repeated timings of the same MLP step vary by ±12 %, too much to see a change
of a few per cent; the instruction count of the same steps is deterministic. It is a proxy, not a
time: it ignores cache misses and counts a SIMD instruction once (the denoise workload, all BLAS and
vectorised kernels, is better timed with benchmarks.step_time). The child is step_time's (same
workload, method, no evaluation); callgrind counts only from the end of the first step to the end
of step `--steps` + 1 (`--instr-atstart=no`, switched on and off with callgrind_control at the
trainer's progress callbacks), with PYTHONHASHSEED=0. ~50x slower than a plain run: the default 50
MLP steps take about a minute per method and revision. Needs valgrind (`apt-get install valgrind`).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.step_time import CASES, CHILD_TRAINER, METHODS, ROOT, baseline_tree

CHILD = CHILD_TRAINER + r"""
import os, subprocess
count, measured = [0], int(sys.argv[4])
def toggle():
    count[0] += 1
    if count[0] in (1, measured + 1):     # after the first step; after `measured` more
        subprocess.run(["callgrind_control", "-i", "on" if count[0] == 1 else "off", str(os.getpid())],
                       check=True, capture_output=True)
trainer.progress = toggle
trainer.train()
"""


def instructions_per_step(code_root: Path, workload: str, method: str, steps: int) -> float:
    """Instructions per step of `steps` steps of `method` on the code at `code_root`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONPATH": str(code_root), "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                        sys.executable, "-c", CHILD, workload, method, str(steps + 2), str(steps)],
                       cwd=code_root, env=env, capture_output=True, check=True)
        return total_instructions(out.read_text()) / steps


def total_instructions(callgrind_out: str) -> int:
    """The `totals:` line of a callgrind output file (its events are instructions, Ir)."""
    found = re.search(r"^totals:\s+(\d+)", callgrind_out, re.MULTILINE)
    if found is None:
        raise ValueError("callgrind output without a totals line")
    return int(found.group(1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="mlp", help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--methods", default="bp_open_loop,eapu")
    parser.add_argument("--baseline", default="c76999f", help="git revision(s), comma-separated ('' to skip)")
    parser.add_argument("--steps", type=int, default=50, help="steps counted (after the first)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("benchmarks.instructions: valgrind not found (apt-get install valgrind)", file=sys.stderr)
        return 2
    unknown = sorted(set(args.cases.split(",")) - set(CASES)) + sorted(set(args.methods.split(",")) - set(METHODS))
    if unknown:
        print(f"benchmarks.instructions: unknown case or method {', '.join(unknown)}", file=sys.stderr)
        return 2
    from benchmarks.common import emit

    trees = {"now": ROOT, **{rev: baseline_tree(rev) for rev in args.baseline.split(",") if rev}}
    for case in args.cases.split(","):
        workload = CASES[case][0]
        for method in args.methods.split(","):
            counts = {rev: instructions_per_step(tree, workload, method, args.steps) for rev, tree in trees.items()}
            emit({"benchmark": "instructions", "case": case, "workload": workload, "method": method,
                  "steps": args.steps, "instructions_per_step": counts["now"],
                  "baselines": {rev: {"instructions_per_step": n, "ratio": n / counts["now"]}
                                for rev, n in counts.items() if rev != "now"}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
