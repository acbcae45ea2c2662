"""`cosim cost WORKLOAD.yaml [--hardware SPEC.yaml] [--methods a,b] [--json] [--out DIR]`"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from cosim.api import DEFAULT_HARDWARE, cost
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload

NAME = "cost"
HELP = ("Cost-only estimate: energy, latency, writes and tiles of one training step and one "
        "inference per update rule, from layer shapes and update statistics (no training).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workload", help="workload YAML with a cost_only section (data may be omitted)")
    add_cost_options(parser)
    add_set_option(parser)


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """--set PATH=VALUE (repeatable), shared by `cosim run` and `cosim cost`."""
    parser.add_argument("--set", action="append", metavar="PATH=VALUE",
                        help="replace a field by dotted path, e.g. --set hardware.adc.bits=6 --set "
                             "workload.training.learning_rate=0.05 (VALUE is YAML: 40 uS, [64, 10], null)")


def overrides(args: argparse.Namespace) -> dict | None:
    """The --set assignments as {dotted path: value}; OverrideError for a malformed one."""
    from cosim.specs.overrides import parse_assignment
    return dict(parse_assignment(text) for text in args.set) if getattr(args, "set", None) else None


def add_cost_options(parser: argparse.ArgumentParser) -> None:
    """Options shared with `cosim run --cost-only` (which adds --set itself)."""
    parser.add_argument("--hardware", default=DEFAULT_HARDWARE, help=f"chip spec YAML or preset name, e.g. pcm (default {DEFAULT_HARDWARE})")
    parser.add_argument("--methods", help="comma-separated update rules, e.g. bp_open_loop,eapu")
    parser.add_argument("--json", action="store_true", help="print cost.json to stdout instead of the table")
    parser.add_argument("--out", help="also write cost.json, cost_info.json and cost.md to this folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--update-scale", type=float,
                        help="override cost_only.update_scale (mean |ΔW| / weight_bound), e.g. for a "
                             "sensitivity check")


# The console's selection of cost_table (the full table is in cost.md and cost.json).
CONSOLE_COLUMNS = ["method", "tiles", "train J/step", "chip J", "train s/step", "fraction written",
                   "steps to median endurance", "inference J", "inference s"]


def with_update_scale(workload, value: float):
    """The workload with cost_only.update_scale replaced (validated; a bad value exits 2)."""
    from cosim.specs.base import validate_mapping
    from cosim.specs.workload import WorkloadSpec

    raw = workload.model_dump()
    raw["cost_only"]["update_scale"] = value
    raw["cost_only"]["update_scale_source"] = "set on the command line (--update-scale)"
    return validate_mapping(WorkloadSpec, raw, "--update-scale")


def run_command(args: argparse.Namespace) -> int:
    from cosim.cli import UsageError
    from cosim.report.cost import cost_markdown, cost_table, gpu_ratio_table
    from cosim.report.render import columns, plain_table

    workload = load_workload(args.workload)
    hardware = load_hardware(args.hardware)
    if workload.cost_only is None:
        raise UsageError(f"{args.workload}: cost_only: missing; the cost-only mode needs its update "
                         "statistics (update_scale and its source)")
    if getattr(args, "update_scale", None) is not None:
        workload = with_update_scale(workload, args.update_scale)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    try:
        result = cost(workload, hardware, methods=methods, progress=not (args.quiet or args.json),
                      set=overrides(args))
    except ValueError as exc:  # an unknown or unsupported method name
        raise UsageError(f"{'--methods' if methods else f'{args.workload}: methods'}: {exc}") from None
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "cost.json").write_text(json.dumps(result.summary, indent=2, sort_keys=True) + "\n")
        (out / "cost_info.json").write_text(json.dumps({"wall_s": result.wall_s}, indent=2) + "\n")
        (out / "cost.md").write_text(cost_markdown(result.summary, result.wall_s))
    if args.json:
        print(json.dumps(result.summary, indent=2, sort_keys=True))
        return 0
    s = result.summary
    print(f"cost-only: {s['workload']} ({s['arch']}, batch {s['batch_size']}) on {s['hardware']}")
    print(plain_table(columns(cost_table(s, result.wall_s), CONSOLE_COLUMNS)))
    print("GPU J/step ÷ chip J/step:")
    print(plain_table(gpu_ratio_table(s)))
    if args.out:
        print(f"wrote {args.out}/cost.json, cost.md")
    return 0
