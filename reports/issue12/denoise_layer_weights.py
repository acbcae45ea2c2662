"""Train `method` N steps on denoise; per-layer weight magnitudes at the end."""
import sys, numpy as np
from cosim.specs.base import read_yaml
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec
from cosim.sim.training import Trainer
from cosim.nn.tasks import load_task
method, steps = sys.argv[1], int(sys.argv[2])
wl_raw = read_yaml("workloads/eapu_paper_denoise.yaml"); hw_raw = read_yaml("hardware_specs/rram_180nm.yaml")
wl_raw["training"]["steps"] = steps; wl_raw["training"]["eval_every"] = max(steps // 4, 1); wl_raw["methods"] = [method]
wl, hw = WorkloadSpec.model_validate(wl_raw), HardwareSpec.model_validate(hw_raw)
tr = Trainer(method, wl, hw, load_task(wl.data, wl.network.build().input_shape))
run = tr.train()
print(method, steps, [(s, round(v["test_psnr_db"], 2)) for s, v in zip(run.eval_steps, run.scores)])
for n, m in tr.state.matrices.items():
    w, w0 = m.weights(), tr.state.initial.get(n)
    print(n, "max|W|=%.4f rms=%.4f  |dW from init| rms=%.4f max=%.4f" % (np.abs(w).max(), np.sqrt((w**2).mean()),
          np.sqrt(((w - w0)**2).mean()), np.abs(w - w0).max()))
