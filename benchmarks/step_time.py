"""`python -m benchmarks.step_time`: CPU seconds per training step of every method on the digits
MLP and on the paper's denoising DnCNN, on this code, on a baseline revision of the code (same
machine, same run) and for bare FP32 numpy training of the same network; one JSON line each.

Each measurement runs in a fresh process (so its peak resident memory is its own) with one BLAS
thread; a step's time is taken between the trainer's progress callbacks, leaving out the setup
(initial programming), the first step and the last (which carries the final evaluation); no
intermediate evaluation runs. Each baseline runs from a detached git worktree of a `--baseline`
revision under /tmp (default c76999f, the code before the fast kernel; a comma-separated list
measures several, e.g. `--baseline c76999f,e4f7d79`). Bare FP32: the loops of
benchmarks.overhead (a float32 numpy MLP; cosim's layers on float32 matrices for the DnCNN),
timed the same way (first step and last step, which carries the final evaluation, left out).

`--from-step K` leaves the first K steps out of the co-simulation's window too. The MLP's
steps last ~1 ms of simulated time and a device relaxes only once it is t0 = 1 s past its
write, so the default 300-step window never relaxes; `--mlp-steps 3000 --from-step 1500` times
the steady state of a long run, where every read relaxes the array first.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {"mlp": ("workloads/digits_mlp.yaml", 300), "denoise": ("workloads/eapu_paper_denoise.yaml", 8)}
METHODS = ["ideal", "bp_open_loop", "write_verify", "eapu"]

# Runs in the child process; uses only API present in the baseline too. CHILD_TRAINER builds the
# trainer of argv's workload, method and steps (no evaluation, no retention checks); the timing
# tail is step_time's own (benchmarks.instructions adds another).
CHILD_TRAINER = r"""
import json, resource, sys, time
from cosim.api import with_overrides
from cosim.specs.base import resolve_path
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload
from cosim.nn.tasks import load_task
from cosim.sim.training import Trainer
path, method, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
wl = with_overrides(load_workload(resolve_path(path)), steps=steps, methods=[method])
training = {"eval_every": 10 ** 6}
if "retention_checks" in type(wl.training).model_fields:
    training["retention_checks"] = []
wl = wl.model_copy(update={"training": wl.training.model_copy(update=training)})
hw = load_hardware(resolve_path("hardware_specs/rram_180nm.yaml"))
task = load_task(wl.data, wl.network.build().input_shape)
trainer = Trainer(method, wl, hw, task)
"""
CHILD = CHILD_TRAINER + r"""
first = int(sys.argv[4]) if len(sys.argv) > 4 else 0     # steps before the timed window
marks = []
trainer.progress = lambda: marks.append((time.process_time(), time.perf_counter()))
trainer.train()
n = len(marks) - 2 - first
print(json.dumps({"cpu_s_per_step": (marks[-2][0] - marks[first][0]) / n,
                  "wall_s_per_step": (marks[-2][1] - marks[first][1]) / n,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(code_root: Path, workload: str, method: str, steps: int, from_step: int = 0) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root), "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, workload, method, str(steps), str(from_step)], cwd=code_root,
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def baseline_tree(rev: str) -> Path:
    """A detached worktree of `rev` under /tmp (made once)."""
    tree = Path("/tmp") / f"cosim-baseline-{rev}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
                       check=True, capture_output=True)
    return tree


def bare_fp32_s_per_step(case: str, steps: int) -> float:
    """CPU seconds per step of the bare FP32 loop of benchmarks.overhead for the same network."""
    from benchmarks.common import default_specs
    from benchmarks.overhead import bare_layers, bare_numpy_mlp
    from cosim.nn.tasks import load_task

    workload, _ = CASES[case]
    wl, _ = default_specs(steps, workload)
    wl = wl.model_copy(update={"training": wl.training.model_copy(update={"eval_every": 10 ** 6})})
    task = load_task(wl.data, wl.network.build().input_shape)
    t = wl.training
    marks = []          # timed as the co-simulation is: first and last step (final evaluation) left out
    progress = lambda: marks.append(time.process_time())
    if case == "mlp":
        bare_numpy_mlp(list(wl.network.params.widths), task, steps, t.batch_size, t.learning_rate,
                       10 ** 6, wl.seed, progress)
    else:
        bare_layers(wl, task, progress)
    return (marks[-2] - marks[0]) / (len(marks) - 2)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="mlp,denoise")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--baseline", default="c76999f",
                        help="git revision(s) to compare with, comma-separated ('' to skip)")
    parser.add_argument("--mlp-steps", type=int, default=CASES["mlp"][1])
    parser.add_argument("--denoise-steps", type=int, default=CASES["denoise"][1])
    parser.add_argument("--from-step", type=int, default=0,
                        help="time the co-simulation from this step on (e.g. past the ~1000 steps of the "
                             "MLP before its devices are 1 s old and relaxation acts on every read)")
    args = parser.parse_args(argv)
    from benchmarks.common import emit

    revs = [rev for rev in args.baseline.split(",") if rev]
    bases = {rev: baseline_tree(rev) for rev in revs}
    for case in args.cases.split(","):
        workload = CASES[case][0]
        steps = args.mlp_steps if case == "mlp" else args.denoise_steps
        if not 0 <= args.from_step < steps - 2:
            parser.error(f"--from-step: must be at least 0 and below {case} steps - 2 ({steps - 2})")
        bare = bare_fp32_s_per_step(case, steps)
        for method in args.methods.split(","):
            now = measure(ROOT, workload, method, steps, args.from_step)
            record = {"benchmark": "step_time", "case": case, "workload": workload, "method": method,
                      "steps": steps, "from_step": args.from_step, **now, "bare_fp32_cpu_s_per_step": bare,
                      "ratio_to_bare_fp32": now["cpu_s_per_step"] / bare}
            for i, (rev, base) in enumerate(bases.items()):
                then = measure(base, workload, method, steps, args.from_step)
                speedup = then["cpu_s_per_step"] / now["cpu_s_per_step"]
                if i == 0:     # the first baseline under the keys earlier records used
                    record.update({"baseline_rev": rev, "baseline": then, "speedup_cpu": speedup})
                else:
                    record.setdefault("more_baselines", {})[rev] = {**then, "speedup_cpu": speedup}
            emit(record)


if __name__ == "__main__":
    main()
