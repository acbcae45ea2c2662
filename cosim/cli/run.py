"""`cosim run [WORKLOAD.yaml] [--hardware SPEC.yaml] [--out DIR] [--seed N | --seeds 0,1,2] [--steps N] [--methods a,b]
[--fidelity transaction|detailed] [--trace [--trace-events N]] [--checkpoint-every N] [--resume]
[--jobs N] [--blas-threads N]`"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from cosim.api import (DEFAULT_HARDWARE, DEFAULT_OUT, DEFAULT_WORKLOAD, Checkpointing, run, run_seeds,
                       write_outputs)
from cosim.cli.cost import add_set_option, overrides
from cosim.nn.tasks import DataError
from cosim.sim.checkpoint import CheckpointError
from cosim.sim.jobs import default_jobs
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload

NAME = "run"
HELP = "Train a workload with several update rules on a simulated chip and write the report."

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("workload", nargs="?", default=DEFAULT_WORKLOAD, help=f"workload YAML or shipped workload name, e.g. digits_vit (default {DEFAULT_WORKLOAD})")
    parser.add_argument("--hardware", default=DEFAULT_HARDWARE, help=f"chip spec YAML or preset name, e.g. pcm (default {DEFAULT_HARDWARE})")
    parser.add_argument("--out", help=f"output folder (default {DEFAULT_OUT}/<workload name>; git-ignored. Committed "
                        "references in reports/ are written only by scripts/regenerate_reports.sh)")
    add_set_option(parser)
    parser.add_argument("--seed", type=int, help="override the workload's seed")
    parser.add_argument("--seeds", help="several training seeds, e.g. 0,1,2: mean and 95 %% confidence "
                        "interval per method in summary.json and the report (each seed's summary in OUT/seeds/)")
    parser.add_argument("--steps", type=int, help="override the number of training steps")
    parser.add_argument("--methods", help="comma-separated update rules, e.g. ideal,eapu")
    parser.add_argument("--fidelity", choices=["transaction", "detailed"],
                        help="override the chip spec's fidelity (detailed: per-conversion/pulse events; small configurations)")
    parser.add_argument("--trace", action="store_true", help="also write trace.json (Chrome/Perfetto trace-event format)")
    parser.add_argument("--trace-events", type=int, help="most spans in trace.json; longer runs keep evenly sampled steps (default 50000)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--cost-only", action="store_true",
                        help="no training: the cost-only estimate of `cosim cost` (uses --hardware, "
                             "--methods, --out, --quiet; add --json for JSON)")
    parser.add_argument("--json", action="store_true", help="with --cost-only: print cost.json")
    parser.add_argument("--update-scale", type=float, help="with --cost-only: override cost_only.update_scale")
    parser.add_argument("--checkpoint-every", type=int, metavar="N",
                        help="save each method's state every N steps in OUT/checkpoints (removed once "
                             "the outputs are written)")
    parser.add_argument("--resume", action="store_true",
                        help="continue a killed run from OUT/checkpoints (same arguments as before)")
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="methods trained in parallel processes (default: the cores, %(default)s here); "
                             "results are the same for any value")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads per process (default 1: faster on a shared machine)")

def run_command(args: argparse.Namespace) -> int:
    from cosim.cli import UsageError

    if args.cost_only:
        from cosim.cli.cost import run_command as cost_command
        return cost_command(args)
    workload = load_workload(args.workload)
    if workload.data is None:
        raise UsageError(f"{args.workload}: data: missing; this workload is shapes-only, so it "
                         "cannot train (use `cosim cost` or `cosim run --cost-only`)")
    hardware = load_hardware(args.hardware)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps: must be >= 1, got {args.steps}")
    if args.trace_events is not None and args.trace_events < 1:
        raise UsageError(f"--trace-events: must be >= 1, got {args.trace_events}")
    for flag, value in (("--checkpoint-every", args.checkpoint_every), ("--jobs", args.jobs),
                        ("--blas-threads", args.blas_threads)):
        if value is not None and value < 1:
            raise UsageError(f"{flag}: must be >= 1, got {value}")
    seeds = _seeds(args)
    out_dir = Path(args.out or DEFAULT_OUT / workload.name)
    checkpoints = out_dir / "checkpoints"
    checkpointing = (Checkpointing(checkpoints, args.checkpoint_every, args.resume)
                     if args.checkpoint_every or args.resume else None)
    try:
        options = dict(methods=methods, steps=args.steps, progress=not args.quiet, fidelity=args.fidelity,
                       checkpointing=checkpointing, source_files=(args.workload, args.hardware),
                       jobs=args.jobs, blas_threads=args.blas_threads, set=overrides(args))
        result = (run_seeds(workload, hardware, seeds, **options) if seeds
                  else run(workload, hardware, seed=args.seed, **options))
    except DataError as exc:
        raise UsageError(f"{args.workload}: {exc}") from None
    except ValueError as exc:  # a bad override, e.g. an unknown method name
        raise UsageError(f"{'--methods' if methods else 'arguments'}: {exc}") from None
    except CheckpointError as exc:
        raise UsageError(f"--resume: {exc}") from None
    out = write_outputs(result, out_dir, trace=args.trace, max_trace_events=args.trace_events)
    shutil.rmtree(checkpoints, ignore_errors=True)   # the outputs now hold everything
    if "resumed_at_step" in result.run_info:
        print("resumed at step: " + ", ".join(f"{m} {s}" for m, s in result.run_info["resumed_at_step"].items()))
    print(f"wrote {out}/report.html, report.md, summary.json, workload.yaml, hardware.yaml"
          + (", trace.json" if args.trace else "") + f" (config {result.summary['config_hash']})")
    _print_table(result.summary)
    return 0

def _seeds(args: argparse.Namespace) -> list[int] | None:
    from cosim.cli import UsageError

    if args.seeds is None:
        return None
    if args.seed is not None:
        raise UsageError("--seeds: give --seed or --seeds, not both")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--seeds: must be comma-separated integers, e.g. 0,1,2; got {args.seeds!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UsageError(f"--seeds: must list distinct integers >= 0, got {args.seeds!r}")
    return seeds


def _print_table(summary: dict) -> None:
    """The report's headline (ratios to bp_open_loop in brackets), then the seeds' confidence
    intervals; each fits a 100-column terminal."""
    from cosim.report.headline import headline_rows
    from cosim.report.render import plain_table
    from cosim.report.seeds import seeds_table

    print(plain_table(headline_rows(summary, with_ci=False)))
    if summary.get("seeds"):
        print(f"\nseeds {', '.join(map(str, summary['seeds']['seeds']))}: mean ± 95 % CI (Student-t)")
        print(plain_table(seeds_table(summary)))

