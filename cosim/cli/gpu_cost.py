"""`cosim gpu-cost WORKLOAD.yaml --gpu h200 [--json]`: what training the workload's network would
cost on a GPU (eager PyTorch, SGD with momentum), with the assumptions printed."""
from __future__ import annotations

import argparse
import json
import sys

from cosim.gpu.model import PRECISIONS, Calibration, estimate_training
from cosim.specs.gpu import CALIBRATION_FILE, load_calibration, load_gpu
from cosim.specs.workload import load_workload

NAME = "gpu-cost"
HELP = "Estimate time and energy of training a workload's network on a GPU (three energy bands)."

ASSUMPTIONS = (
    "eager PyTorch, unfused kernels, SGD with momentum (foreach), data already on the GPU",
    "time per kernel = max(FLOPs / achievable rate, bytes / bandwidth) + launch floor; "
    "step = max(GPU time, host dispatch time)",
    "constants fitted on 3 measured H200 steps (MLP, DnCNN-17, ResNet-18); other GPUs scaled "
    "from their spec sheets, not measured",
    "floor = FLOPs x TDP/peak; tdp_x_time = TDP x modelled step time "
    "(the 'power x time' of papers)",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workload", help="workload YAML file (its network and training sections)")
    parser.add_argument("--gpu", default="h200",
                        help="GPU: a file stem in hardware_specs/gpus (h200, a100, ...) "
                             "or a YAML path")
    parser.add_argument("--precision", default="pytorch_default", choices=list(PRECISIONS),
                        help="where tensor ops run; pytorch_default = TF32 convs, FP32 matmuls")
    parser.add_argument("--calibration", default=str(CALIBRATION_FILE),
                        help="calibration YAML written by `python -m cosim.gpu.calibrate`")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def gpu_cost_summary(args: argparse.Namespace) -> dict:
    workload = load_workload(args.workload)
    gpu = load_gpu(args.gpu)
    spec = load_calibration(args.calibration)
    arch = workload.network.build()
    summary = estimate_training(arch, workload.training.batch_size, workload.training.steps, gpu,
                                Calibration(spec.fitted, spec.assumed), args.precision)
    return {"workload": workload.name, **summary, "assumptions": list(ASSUMPTIONS)}


def format_summary(s: dict) -> str:
    b, br = s["bands"], s["bands_run"]
    lines = [
        f"GPU cost of {s['workload']} ({s['arch']}) on {s['gpu']}, precision {s['precision']}, "
        f"batch {s['batch_size']}, {s['steps']} steps",
        f"  FLOPs/step          {s['flops_per_step']:.4g}  "
        f"(matmul+conv {s['tensor_flops_per_step']:.4g})",
        f"  bytes/step          {s['bytes_per_step']:.4g} B (DRAM, read + write)",
        f"  kernels/step        {s['kernels_per_step']}",
        f"  time_s_per_step     {s['time_s_per_step']:.4g} s  (bound: {s['bound']}; GPU busy "
        f"{s['gpu_time_s_per_step']:.4g} s, host dispatch {s['host_time_s_per_step']:.4g} s)",
        f"  energy_j_per_step   {s['energy_j_per_step']:.4g} J  (calibrated)",
        f"  bands J/step        floor {b['floor']:.4g} | calibrated {b['calibrated']:.4g} | "
        f"tdp_x_time {b['tdp_x_time']:.4g}",
        f"  whole run           {s['time_s_run']:.4g} s, {s['energy_j_run']:.4g} J  "
        f"(floor {br['floor']:.4g} J, tdp_x_time {br['tdp_x_time']:.4g} J)",
        "Assumptions:",
        *(f"  - {a}" for a in s["assumptions"]),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    summary = gpu_cost_summary(args)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run this subcommand alone (`python -m cosim.cli.gpu_cost`), with the CLI's error handling."""
    from cosim.cli import UsageError
    from cosim.specs.base import SpecError
    parser = argparse.ArgumentParser(prog=f"cosim {NAME}", description=HELP)
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except (SpecError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
