"""`cosim report SWEEP_DIR`: (re)write a sweep's report from its finished points."""
from __future__ import annotations

import argparse
from pathlib import Path

NAME = "report"
HELP = "Write a sweep folder's report: results table, Pareto fronts, sensitivity per axis, best points."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep_dir", help="folder a `cosim sweep` wrote")


def run_command(args: argparse.Namespace) -> int:
    from cosim.cli import UsageError
    from cosim.report.sweep_report import write_sweep_report
    from cosim.report.sweep_table import rebuild_tables

    if not (Path(args.sweep_dir) / "sweep.json").is_file():
        raise UsageError(f"{args.sweep_dir}: not a sweep folder (no sweep.json)")
    rebuild_tables(args.sweep_dir)
    out = write_sweep_report(args.sweep_dir)
    print(f"wrote {out}/report.html, report.md, results.csv, results.parquet")
    return 0
