"""Cost-only vs a trained run of the same network and batch: per-step action counts and energy,
and wall time, on each chip preset (issue 11's pricing bugs showed as ADC ratios of 1.32x on
rram_180nm and 0.37x on MRAM for workloads/digits_mlp.yaml).

    PYTHONPATH=$PWD python benchmarks/cost_vs_trained.py [--steps 4] [--method bp_open_loop]
        [--presets rram_180nm,mram,pcm]

Prints, per preset, cost-only / trained for ADC conversions, array reads and DAC conversions per
step (1.000 = equal), the same ratio of their energy (array read energy differs: cost-only uses
an input statistic, not the trained conductances), and seconds per step of each.

Measured (digits_mlp 64-64-10, batch 32, bp_open_loop, 4 steps), ADC conversions per step,
cost-only / trained: before issue 11 (c76999f) rram_180nm 1.317, mram 0.369, pcm 1.317; after
(TileMap + input_nonnegative) 1.000 on all three (array reads and DAC conversions likewise).

    PYTHONPATH=$PWD python benchmarks/cost_vs_trained.py --programming [--steps 400]
        [--rules bp_open_loop,write_verify,eapu] [--presets rram_180nm]

Programming instead: per rule, the trained run's mean weight cells written, device writes and
pulses per step (all its steps) beside cost-only's one-step estimate, and their ratio.
"""
from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import pandas as pd

from cosim.nn.tasks import load_task
from cosim.sim.cost_only import CostModel
from cosim.sim.training import Trainer
from cosim.specs.base import read_yaml
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import WorkloadSpec

ROOT = Path(__file__).resolve().parents[1]
ACTIONS = ("adc_conversion", "array_read", "dac_conversion")
MVM_OPS = ("forward", "backward")


def workload(method: str, steps: int) -> WorkloadSpec:
    raw = copy.deepcopy(read_yaml(ROOT / "workloads" / "digits_mlp.yaml"))
    raw["training"].update({"steps": steps, "eval_every": steps})
    raw["methods"] = [method]
    raw["cost_only"] = {"update_scale": 1.79e-3, "update_scale_source": "benchmark"}
    return WorkloadSpec.model_validate(raw)


def per_step(ledger, steps: int) -> pd.DataFrame:
    acts, tx = ledger.actions(), ledger.transactions()
    acts = acts[acts.step >= 0].assign(op=lambda a: tx.op.to_numpy()[a.tx.to_numpy()])
    acts = acts[acts.op.isin(MVM_OPS) & acts.action.isin(ACTIONS)]
    return acts.groupby("action")[["count", "energy_j"]].sum() / steps


PROGRAMMING = ("cells_written", "device_writes", "pulses")


def programming(args) -> None:
    """Trained vs cost-only programming per step, per rule and preset."""
    rows = []
    for preset in args.presets.split(","):
        hw = load_hardware(ROOT / "hardware_specs" / f"{preset}.yaml")
        for method in args.rules.split(","):
            wl = workload(method, args.steps)
            run = Trainer(method, wl, hw, load_task(wl.data, wl.network.build().input_shape)).train()
            cost = CostModel(wl, hw).estimate(method).writes
            for key in PROGRAMMING:
                trained = float(getattr(run, key).mean())
                rows.append({"preset": preset, "rule": method, "per step": key, "trained": trained,
                             "cost-only": cost[key], "cost-only / trained": cost[key] / trained if trained else None})
    print(f"programming per step, cost-only vs trained ({args.steps} steps, digits_mlp, update_scale 1.79e-3)")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--method", default="bp_open_loop")
    parser.add_argument("--presets", default="rram_180nm,rram_22nm,mram,pcm,ecram,fefet")
    parser.add_argument("--programming", action="store_true", help="compare programming per step instead")
    parser.add_argument("--rules", default="bp_open_loop,write_verify,eapu")
    args = parser.parse_args()
    if args.programming:
        return programming(args)
    wl = workload(args.method, args.steps)
    task = load_task(wl.data, wl.network.build().input_shape)
    rows = []
    for preset in args.presets.split(","):
        hw = load_hardware(ROOT / "hardware_specs" / f"{preset}.yaml")
        started = time.perf_counter()
        run = Trainer(args.method, wl, hw, task).train()
        trained_s = (time.perf_counter() - started) / args.steps
        started = time.perf_counter()
        estimate = CostModel(wl, hw).estimate(args.method)
        cost_s = time.perf_counter() - started
        real, cost = per_step(run.ledger, args.steps), per_step(estimate.train_ledger, 1)
        ratio = cost / real
        rows.append({"preset": preset, **{f"{a} count": ratio.loc[a, "count"] for a in ACTIONS},
                     **{f"{a} J": ratio.loc[a, "energy_j"] for a in ACTIONS},
                     "trained s/step": trained_s, "cost-only s": cost_s})
    print(f"cost-only / trained per step, {wl.network.arch} {wl.network.params}, batch "
          f"{wl.training.batch_size}, {args.method}, {args.steps} trained steps")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
