"""`python -m benchmarks.fidelity`: CPU seconds per training step with `hardware.mvm_numerics`
exact and auto (aggregated bit-slices where the run-time check passes, cosim/nn/aggregated.py),
on one DnCNN-sized matrix alone (the kernel), the digits MLP (batch 32 and 256) and the paper's
denoising DnCNN, for the default chip and for chips whose read
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
# case: (workload, steps, workload overrides). mlp_b256: batch 256, so its products are large
# enough to aggregate (cosim.nn.aggregated.MIN_VECTORS); the default batch of 32 is not.
CASES = {"mlp": ("workloads/digits_mlp.yaml", 200, {}),
         "mlp_b256": ("workloads/digits_mlp.yaml", 100, {"workload.training.batch_size": 256}),
         "denoise": ("workloads/eapu_paper_denoise.yaml", 6, {})}
# The kernel alone: one 288 x 32 matrix (a DnCNN 3x3x32 conv) on 6400 vectors (a 4 x 40 x 40
# batch) of dense positive inputs, so that every slice drives many rows and the check passes.
LAYER = {"rows": 288, "cols": 32, "vectors": 6400, "repeats": 5}
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


LAYER_CHILD = r"""
import json, sys, time
import numpy as np
from cosim.nn.analog import AnalogMatrix
from cosim.specs.base import resolve_path
from cosim.specs.hardware import load_hardware
from cosim.specs.overrides import apply_overrides
from cosim.specs.workload import load_workload
numerics, overrides, shape = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
wl = load_workload(resolve_path("workloads/digits_mlp.yaml"))
_, hw = apply_overrides(wl, load_hardware(resolve_path("hardware_specs/rram_180nm.yaml")),
                        {**overrides, "hardware.mvm_numerics": numerics})
rng = np.random.default_rng(0)
w = rng.uniform(-0.9, 0.9, (shape["rows"], shape["cols"]))
m = AnalogMatrix("w", w, hw, 1.0, np.random.default_rng(1))
m.devices.set_exact(w)
x = rng.uniform(0.2, 1.0, (shape["vectors"], shape["rows"]))
m.matmul(x)                                   # calibration and compilation
times = []
for _ in range(shape["repeats"]):
    started = time.process_time(); m.matmul(x); times.append(time.process_time() - started)
s = m.numerics["forward"]
print(json.dumps({"cpu_s_per_product": min(times), "aggregated_share": s["aggregated"] / max(s["aggregated"] + s["exact"], 1),
                  "fallback": s["fallback"]}))
"""


def _child(args: list) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(case: str, chip: str, numerics: str, method: str, steps: int) -> dict:
    if case == "layer":
        return _child([LAYER_CHILD, numerics, json.dumps(CHIPS[chip]), json.dumps(LAYER)])
    workload, _, overrides = CASES[case]
    return _child([CHILD, workload, method, str(steps), numerics, json.dumps({**overrides, **CHIPS[chip]})])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="layer,mlp,mlp_b256,denoise")
    parser.add_argument("--chips", default=",".join(CHIPS))
    parser.add_argument("--method", default="eapu")
    parser.add_argument("--steps", type=int, default=None, help="training steps of every case (default: its own)")
    parser.add_argument("--layer", default=None, help="the layer case's rows,cols,vectors (default 288,32,6400)")
    args = parser.parse_args(argv)
    if args.layer:
        LAYER.update(zip(("rows", "cols", "vectors"), map(int, args.layer.split(","))))
    from benchmarks.common import emit

    for case in args.cases.split(","):
        steps = 0 if case == "layer" else args.steps or CASES[case][1]
        for chip in args.chips.split(","):
            exact = measure(case, chip, "exact", args.method, steps)
            auto = measure(case, chip, "auto", args.method, steps)
            for numerics, result in (("exact", exact), ("auto", auto)):
                spec = CASES.get(case, (None, 0, {}))
                record = {"benchmark": "fidelity", "case": case, "chip": chip, "workload": spec[0],
                          "overrides": {**spec[2], **CHIPS[chip]}, "method": args.method, "steps": steps,
                          "mvm_numerics": numerics, **result}
                if numerics == "auto":
                    key = "cpu_s_per_product" if case == "layer" else "cpu_s_per_step"
                    record["speedup_cpu_vs_exact"] = exact[key] / result[key]
                if case == "layer":
                    record["layer"] = dict(LAYER)
                emit(record)


if __name__ == "__main__":
    main()
