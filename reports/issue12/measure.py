"""Issue 12 measurements: digits MLP on the default chip, every rule, several learning rates and
pulse-rounding conventions; one JSON line per (config, method). Usage:
  PYTHONPATH=. python reports/issue12/measure.py OUT.jsonl lr=0.1 rounding=nearest [steps=1720] [methods=a,b] [seed=0]
seed sets the training seed (weights, batches, device variation, noise); the split stays fixed.
"""
import json
import sys
import time

import cosim.api as api
from cosim.specs.base import read_yaml
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec

ALL = ["ideal", "bp_open_loop", "write_verify", "mixed_precision", "manhattan", "tiki_taka", "eapu"]


def main(out, *args):
    opts = dict(a.split("=", 1) for a in args)
    wl_raw = read_yaml(opts.get("workload", "workloads/digits_all_rules.yaml"))
    wl_raw["seed"] = int(opts.get("seed", 0))
    wl_raw["training"]["learning_rate"] = float(opts.get("lr", 0.1))
    wl_raw["training"]["steps"] = int(opts.get("steps", 1720))
    wl_raw["training"]["eval_every"] = int(opts.get("eval_every", 86))
    wl_raw["training"].pop("retention_checks", None)
    wl_raw["methods"] = opts.get("methods", ",".join(ALL)).split(",")
    hw_raw = read_yaml(opts.get("hardware", "hardware_specs/rram_180nm.yaml"))
    hw_raw["device"]["rounding"] = opts.get("rounding", "nearest")
    wl, hw = WorkloadSpec.model_validate(wl_raw), HardwareSpec.model_validate(hw_raw)
    started = time.time()
    summary = api.run(wl, hw).summary
    for method, m in summary["methods"].items():
        life = m["lifetime"]
        row = {"seed": wl.seed, "lr": wl.training.learning_rate, "rounding": hw.device.rounding, "steps": wl.training.steps,
               "method": method, "metric": m["metric"]["value"], "final_loss": m["final_loss"],
               "fraction_updated_per_step": m["writes"]["fraction_updated_per_step"],
               "cell_writes": m["writes"]["cell_writes"], "pulses": m["writes"]["pulses"],
               "energy_j": m["energy_j"]["total"],
               "mean_write_rate_per_device": life.get("mean_write_rate_per_device"),
               "mean_rate_ratio_vs_bp": life.get("mean_write_rate_ratio_vs_bp_open_loop"),
               "first_failure_ratio_vs_bp": life.get("steps_to_first_cell_failure_vs_bp_open_loop"),
               "one_pct_ratio_vs_bp": life.get("steps_to_1pct_cells_failed_vs_bp_open_loop"),
               "steps_to_first_failure": life.get("steps_to_first_cell_failure"),
               "steps_to_1pct_failed": life.get("steps_to_1pct_cells_failed"),
               "unconverged": m["programming"].get("write_verify", {}).get("unconverged_devices"),
               "layers": m.get("layers", {}), "wall_s": time.time() - started}
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
