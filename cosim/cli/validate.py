"""`cosim validate FILE.yaml ...`: check hardware, workload, sweep, GPU or GPU-calibration files."""
from __future__ import annotations

import argparse
import sys

from cosim.specs.base import KIND_USE, SpecError, read_yaml, spec_kind
from cosim.specs.gpu import load_calibration, load_gpu
from cosim.specs.hardware import load_hardware
from cosim.specs.sweep import SweepSpec, expand_sweep, load_sweep
from cosim.specs.workload import load_workload

NAME = "validate"
HELP = "Check hardware, workload, sweep, GPU or GPU-calibration files; one clear message per bad file."
LOADERS = {"workload": load_workload, "hardware": load_hardware, "sweep": load_sweep,
           "gpu": load_gpu, "calibration": load_calibration}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="YAML files")


def check_file(path: str) -> str:
    """Load `path` as the kind of spec it is; a one-line description, or SpecError."""
    kind = spec_kind(read_yaml(path))
    if kind is None:
        kinds = ", ".join(what for what, _ in KIND_USE.values())
        raise SpecError(path, [("", f"not a spec this project knows: expected {kinds} "
                                    "(see docs/spec_reference.md)")])
    spec = LOADERS[kind](path)
    extra = f", {len(expand_sweep(spec, path))} valid points" if isinstance(spec, SweepSpec) else ""
    return f"{path}: ok ({type(spec).__name__} {getattr(spec, 'name', '') or getattr(spec, 'gpu', '')}{extra})"


def run(args: argparse.Namespace) -> int:
    """Check every file; report each bad one and exit 2 if any was bad."""
    bad = 0
    for path in args.files:
        try:
            print(check_file(path))
        except SpecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            bad += 1
    return 2 if bad else 0
