"""`python -m benchmarks.fidelity`: CPU seconds per training step with `hardware.mvm_numerics`
exact and auto (aggregated bit-slices where the run-time check passes, cosim/nn/aggregated.py),
on the digits MLP and the paper's denoising DnCNN, for the default chip and for chips whose read
noise dithers the ADC; one JSON line per case, chip and numerics, with the share of training
products that ran aggregated and the fallback reasons per matrix and direction.

Timing as benchmarks/step_time.py: a fresh process per measurement, one BLAS thread, a step's
time taken between the trainer's progress callbacks without setup, first and last step, no
intermediate evaluation. The final task metric is printed too (one seed: a sanity check, not an
accuracy comparison; tests/test_aggregated.py has the slow accuracy test).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {"mlp": ("workloads/digits_mlp.yaml", 200), "denoise": ("workloads/eapu_paper_denoise.yaml", 6)}
# Chip variants (overrides of hardware_specs/rram_180nm.yaml): the preset (1 % read noise, 8-bit
# ADC: σ/LSB ~0.1-0.4, the check fails), 5 % read noise (assumed, a noisy device) and a 10-bit ADC.
CHIPS = {"rram_180nm": {}, "read_noise_5pc": {"hardware.device.read_noise": 0.05},
         "adc_10bit": {"hardware.adc.bits": 10}}

CHILD = r"""
import json, resource, sys, time
from cosim.api import with_overrides
from cosim.nn.analog import AnalogMatrix
from cosim.specs.base import resolve_path
from cosim.specs.hardware import load_hardware
from cosim.specs.overrides import apply_overrides
from cosim.specs.workload import load_workload
from cosim.nn.tasks import load_task
from cosim.sim.training import Trainer
path, method, steps, numerics, overrides = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
wl = with_overrides(load_workload(resolve_path(path)), steps=steps, methods=[method])
wl = wl.model_copy(update={"training": wl.training.model_copy(update={"eval_every": 10 ** 6})})
hw = load_hardware(resolve_path("hardware_specs/rram_180nm.yaml"))
wl, hw = apply_overrides(wl, hw, {**overrides, "hardware.mvm_numerics": numerics})
task = load_task(wl.data, wl.network.build().input_shape)
trainer = Trainer(method, wl, hw, task)
marks = []
trainer.progress = lambda: marks.append(time.process_time())
run = trainer.train()
n = len(marks) - 2
layers = {}
for name, m in trainer.state.matrices.items():
    if isinstance(m, AnalogMatrix):
        for d, s in m.numerics.items():
            if s["aggregated"] or s["exact"]:
                layers[f"{name}.{d}"] = {"aggregated": s["aggregated"], "exact": s["exact"], "fallback": s["fallback"]}
agg = sum(v["aggregated"] for v in layers.values()); total = agg + sum(v["exact"] for v in layers.values())
print(json.dumps({"cpu_s_per_step": (marks[-2] - marks[0]) / n, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "final_metric": run.metric_values[-1] if run.metric_values else None,
                  "aggregated_share": agg / total if total else None, "products": layers}))
"""


def measure(case: str, chip: str, numerics: str, method: str, steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, CASES[case][0], method, str(steps), numerics,
                           json.dumps(CHIPS[chip])], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="mlp,denoise")
    parser.add_argument("--chips", default=",".join(CHIPS))
    parser.add_argument("--method", default="eapu")
    parser.add_argument("--mlp-steps", type=int, default=CASES["mlp"][1])
    parser.add_argument("--denoise-steps", type=int, default=CASES["denoise"][1])
    args = parser.parse_args(argv)
    from benchmarks.common import emit

    for case in args.cases.split(","):
        steps = args.mlp_steps if case == "mlp" else args.denoise_steps
        for chip in args.chips.split(","):
            exact = measure(case, chip, "exact", args.method, steps)
            auto = measure(case, chip, "auto", args.method, steps)
            for numerics, result in (("exact", exact), ("auto", auto)):
                record = {"benchmark": "fidelity", "case": case, "workload": CASES[case][0], "chip": chip,
                          "overrides": CHIPS[chip], "method": args.method, "steps": steps,
                          "mvm_numerics": numerics, **result}
                if numerics == "auto":
                    record["speedup_cpu_vs_exact"] = exact["cpu_s_per_step"] / result["cpu_s_per_step"]
                emit(record)


if __name__ == "__main__":
    main()
