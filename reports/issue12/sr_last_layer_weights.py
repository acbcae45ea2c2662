"""FP reference (ideal) last-layer weights of eapu_paper_srx2 after its 200 steps: max |W| and rms per layer
(README: EaPU's step vs these). Usage: PYTHONPATH=. python reports/issue12/sr_last_layer_weights.py"""
import numpy as np
from cosim.specs.base import resolve_path
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload
from cosim.api import with_overrides
from cosim.nn.tasks import load_task
from cosim.sim.training import Trainer
wl = with_overrides(load_workload(resolve_path("workloads/eapu_paper_srx2.yaml")), methods=["ideal"])
hw = load_hardware(resolve_path("hardware_specs/rram_180nm.yaml"))
t = Trainer("ideal", wl, hw, load_task(wl.data, wl.network.build().input_shape))
t.train()
m = t.state.matrices
items = m.items() if hasattr(m, 'items') else enumerate(m)
for k, v in items:
    w = getattr(v, 'weights', None); w = w() if callable(w) else w
    if w is None: w = getattr(v, 'w', None)
    print(k, type(v).__name__, None if w is None else (np.abs(w).max(), np.sqrt((w**2).mean())))
