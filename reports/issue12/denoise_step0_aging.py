"""Denoise step-0 probe: after the initial write-verify, PSNR with one layer's devices aged to t."""
import sys, copy, numpy as np
import cosim.api as api
from cosim.specs.base import read_yaml
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec
from cosim.sim.training import Trainer
from cosim.nn.analog import AnalogMatrix
from cosim.nn.tasks import load_task

method = sys.argv[1] if len(sys.argv) > 1 else "bp_open_loop"
sets = dict(a.split("=", 1) for a in sys.argv[2:])
wl_raw = read_yaml("workloads/eapu_paper_denoise.yaml"); hw_raw = read_yaml("hardware_specs/rram_180nm.yaml")
for k, v in sets.items():
    hw_raw["device"][k] = float(v)
wl, hw = WorkloadSpec.model_validate(wl_raw), HardwareSpec.model_validate(hw_raw)
task = load_task(wl.data, wl.network.build().input_shape)
tr = Trainer(method, wl, hw, task)
tr.env.process(tr._setup()); tr.env.run()
print("step0", {k: round(v, 3) for k, v in tr.state.run.scores[0].items()})
mats = {n: m for n, m in tr.state.matrices.items() if isinstance(m, AnalogMatrix)}
for n, m in mats.items():
    d = m.devices; w0 = tr.state.initial[n]; w = m.weights()
    print(n, "s=%.3f" % m.weight_bound, "|W0|rms=%.4f" % np.sqrt((w0**2).mean()), "err rms=%.4f" % np.sqrt(((w - w0)**2).mean()),
          "stuck=%d (at gmax %d)" % (d.stuck.sum(), (d.stuck & (d.x == 1)).sum()), "written=%d" % (d.write_count > 0).sum(), "of", d.x.size)
for t in [5.0, 15.0, 75.0, 150.0]:
    row = []
    for n, m in list(mats.items()) + [("all", None)]:
        group = mats.values() if m is None else [m]
        saved = [(g, g.devices.x.copy(), g.devices.clock) for g in group]
        for g in group:
            g.devices.advance_to(t)
        err = [np.sqrt(((g.weights() - tr.state.initial[g.name])**2).mean()) for g in group]
        psnr = tr._measure()["test_psnr_db"]
        for g, x, c in saved:
            g.devices.x[...] = x; g.devices.clock = c
        row.append(f"{n}:{psnr:.2f}dB(err {max(err):.4f})")
    print(f"age {t:5.0f} s", " ".join(row))
