"""Does evaluation frequency change training? eapu on denoise, 6 steps, eval every 1 vs 6: losses."""
import numpy as np
from cosim.specs.base import read_yaml
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec
from cosim.sim.training import Trainer
from cosim.nn.tasks import load_task
out = {}
for every in (1, 6):
    wl_raw = read_yaml("workloads/eapu_paper_denoise.yaml"); hw_raw = read_yaml("hardware_specs/rram_180nm.yaml")
    wl_raw["training"].update(steps=6, eval_every=every); wl_raw["methods"] = ["eapu"]
    wl, hw = WorkloadSpec.model_validate(wl_raw), HardwareSpec.model_validate(hw_raw)
    run = Trainer("eapu", wl, hw, load_task(wl.data, wl.network.build().input_shape)).train()
    out[every] = run.loss.copy(); print(every, run.loss, run.pulses)
print("identical:", np.array_equal(out[1], out[6]))
