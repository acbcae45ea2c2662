"""`cosim validate FILE.yaml ...`: check hardware, workload or GPU spec files."""
from __future__ import annotations

import argparse
import sys

from cosim.specs.base import SpecError, read_yaml, validate_mapping
from cosim.specs.gpu import GpuSpec
from cosim.specs.hardware import HardwareSpec, load_hardware
from cosim.specs.sweep import SweepSpec, expand_sweep
from cosim.specs.workload import WorkloadSpec

NAME = "validate"
HELP = "Check hardware, workload, sweep or GPU spec files; one clear message per bad file."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="YAML files")


def kind_of(data: dict) -> type:
    """Sweeps name a base workload file, workloads have a network, chips a device, GPUs a peak FP32 rate."""
    if isinstance(data.get("workload"), str):
        return SweepSpec
    if "network" in data or "training" in data:
        return WorkloadSpec
    if "device" in data or "tile" in data or "extends" in data:
        return HardwareSpec
    return GpuSpec


def run(args: argparse.Namespace) -> int:
    """Check every file; report each bad one and exit 2 if any was bad."""
    bad = 0
    for path in args.files:
        try:
            data = read_yaml(path)
            kind = kind_of(data)
            spec = load_hardware(path) if kind is HardwareSpec else validate_mapping(kind, data, path)
            extra = f", {len(expand_sweep(spec, path))} valid points" if isinstance(spec, SweepSpec) else ""
            print(f"{path}: ok ({type(spec).__name__} {getattr(spec, 'name', '')}{extra})")
        except SpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            bad += 1
    return 2 if bad else 0
