"""Train `method` N steps on denoise; then PSNR with each layer's devices put back to their
post-setup state (which layer's writes cost the PSNR), per-layer writes and weight change."""
import sys, numpy as np
from cosim.specs.base import read_yaml
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec
from cosim.sim.training import Trainer
from cosim.nn.tasks import load_task
from cosim.nn.analog import AnalogMatrix
import os, cosim.devices.mapping as mp
if os.environ.get("ZERO_MAX"):      # diagnostic: the stand-in max |W| of a zero-initialised layer
    mp.zero_layer_max_abs = lambda fan_in: float(os.environ["ZERO_MAX"])
method, steps = sys.argv[1], int(sys.argv[2])
wl_raw = read_yaml("workloads/eapu_paper_denoise.yaml"); hw_raw = read_yaml("hardware_specs/rram_180nm.yaml")
for a in sys.argv[3:]:
    k, v = a.split("=", 1); sec, f = k.split(".", 1)
    (wl_raw if sec in ("training", "rules") else hw_raw)[sec][f] = float(v) if v.replace('.', '').replace('-', '').isdigit() else v
wl_raw["training"]["steps"] = steps; wl_raw["training"]["eval_every"] = max(steps // 2, 1); wl_raw["methods"] = [method]
wl, hw = WorkloadSpec.model_validate(wl_raw), HardwareSpec.model_validate(hw_raw)
tr = Trainer(method, wl, hw, load_task(wl.data, wl.network.build().input_shape))
saved = {}
orig_setup = tr._setup
def setup():
    yield from orig_setup()
    for n, m in tr.state.matrices.items():
        saved[n] = (m.devices.x.copy(), m.devices.write_count.copy(), m.weights())
tr._setup = setup
run = tr.train()
print(method, steps, [(s, round(v["test_psnr_db"], 2)) for s, v in zip(run.eval_steps, run.scores)])
end = tr._measure()["test_psnr_db"]
print("end %.2f dB" % end)
for n, m in tr.state.matrices.items():
    x0, wc0, w_setup = saved[n]
    now = m.devices.x.copy()
    writes = int((m.devices.write_count - wc0).sum())
    dw = m.weights() - w_setup
    m.devices.x[...] = x0
    back = tr._measure()["test_psnr_db"]
    m.devices.x[...] = now
    print(f"{n}: s={np.max(m.weight_bound):.3f} device writes {writes} ({writes / m.devices.x.size / steps:.2e}/device/step) "
          f"|dW| rms {np.sqrt((dw**2).mean()):.4f} max {np.abs(dw).max():.4f}; PSNR with this layer restored {back:.2f} dB")
