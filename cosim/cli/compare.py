"""`cosim compare RUN_A RUN_B [RUN_C ...] [--json]`: finished runs side by side."""
from __future__ import annotations

import argparse
import json

NAME = "compare"
HELP = ("Compare finished runs: per method metric, energy, latency, writes and lifetime with ratios "
        "to the first run, and the spec fields that differ.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="folders `cosim run` wrote (the first is the reference)")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")


def run_command(args: argparse.Namespace) -> int:
    from cosim.cli import UsageError
    from cosim.report.compare import NotARun, compare_runs, comparison_tables, load_run
    from cosim.report.render import plain_table

    if len(args.runs) < 2:
        raise UsageError("RUN: give at least two run folders to compare")
    try:
        result = compare_runs([load_run(folder) for folder in args.runs])
    except NotARun as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    metrics, specs = comparison_tables(result)
    for label, folder, digest, seeds in zip(metrics[0][2:], result["runs"], result["config_hash"], result["seeds"]):
        print(f"{label}: {folder}" + (f"  (config {digest})" if digest else "")
              + (f"  means of seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else ""))
    print("\nMetrics (in brackets: ratio to A)\n" + plain_table(metrics))
    if result["missing_specs"]:
        print("\nno resolved workload.yaml/hardware.yaml (older run): " + ", ".join(result["missing_specs"]))
    print("\nSpec differences\n" + (plain_table(specs) if len(specs) > 1 else "none: the resolved specs are identical"))
    return 0
