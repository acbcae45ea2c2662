"""`cosim sweep SWEEP.yaml [--workers N] [--scheduler tcp://HOST:PORT] [--resume] [--out DIR]`"""
from __future__ import annotations

import argparse

NAME = "sweep"
HELP = "Run a what-if sweep (grid, zipped and random axes, seeds) locally or on a Dask cluster."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", help="sweep YAML file (see workloads/sweeps/)")
    parser.add_argument("--out", help="sweep folder (default sweeps/<sweep name>)")
    parser.add_argument("--workers", type=int, help="local worker processes (default: all cores)")
    parser.add_argument("--scheduler", help="run on the dask.distributed scheduler at tcp://HOST:PORT")
    parser.add_argument("--resume", action="store_true", help="run only the points the folder lacks")
    parser.add_argument("--retry-errors", action="store_true", help="with --resume, rerun points that raised")
    parser.add_argument("--dry-run", action="store_true", help="validate every point and list them; run nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_command(args: argparse.Namespace) -> int:
    from cosim.cli import UsageError
    from cosim.sweep import SweepExists, run_sweep
    from cosim.sweep.backends import SchedulerUnreachable
    from cosim.sweep.runner import plan_sweep

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: must be >= 1, got {args.workers}")
    if args.scheduler and args.workers is not None:
        raise UsageError("--workers: the cluster at --scheduler decides its workers; give one or the other")
    if args.retry_errors and not args.resume:
        raise UsageError("--retry-errors: only with --resume")
    if args.dry_run:
        _, points = plan_sweep(args.sweep)
        for point in points:
            print(f"{point.key}  {point.describe()}")
        print(f"{len(points)} points, all valid")
        return 0
    try:
        outcome = run_sweep(args.sweep, args.out, args.workers, args.scheduler, args.resume,
                            args.retry_errors, progress=not args.quiet)
    except SweepExists as exc:
        raise UsageError(f"--out: {exc}") from None
    except SchedulerUnreachable as exc:
        raise UsageError(f"--scheduler: {exc}") from None
    if outcome.stale:
        print(f"{outcome.stale} finished points were computed from another configuration (the sweep "
              "or a base file changed since): rerun with the current one")
    print(f"{outcome.out}: {outcome.ran} points run, {outcome.skipped} already done, "
          f"{len(outcome.errors)} raised; report in {outcome.out}/report.html, report.md")
    return 1 if outcome.errors else 0
