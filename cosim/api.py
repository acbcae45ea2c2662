"""Python API: `cosim.run(...)` trains a workload with several update rules on a chip and
returns the summary and per-step tables; `write_outputs` saves them with the report."""
from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from cosim.nn.tasks import load_task
from cosim.report.provenance import provenance, write_resolved_specs
from cosim.report.summary import build_summary
from cosim.sim.checkpoint import Checkpoint, fingerprint
from cosim.sim.jobs import run_methods
from cosim.sim.assembly import MethodRun
from cosim.sim.training import Trainer
from cosim.specs.base import SpecError, SpecTypeError, resolve_spec, validation_problems
from cosim.specs.hardware import HardwareSpec, load_hardware
from cosim.specs.overrides import OverrideError, apply_overrides
from cosim.specs.workload import WorkloadSpec, check_methods, load_workload

DEFAULT_WORKLOAD = "workloads/digits_mlp.yaml"
DEFAULT_HARDWARE = "hardware_specs/rram_180nm.yaml"
DEFAULT_OUT = Path("runs")   # `cosim run` writes runs/<workload name>/ (git-ignored)


@dataclass
class RunResult:
    summary: dict
    ledger: pd.DataFrame            # per method and step: energy (J) per action, writes, loss
    curves: pd.DataFrame            # per method and evaluation step: the test metrics
    runs: list[MethodRun] = field(repr=False, default_factory=list)
    run_info: dict = field(default_factory=dict)
    workload: WorkloadSpec | None = field(repr=False, default=None)   # as trained (overrides applied)
    hardware: HardwareSpec | None = field(repr=False, default=None)
    seed_summaries: dict[int, dict] = field(repr=False, default_factory=dict)   # run_seeds: per seed


def _as_spec(value, loader, model, kind: str):
    """A spec object as given, or loaded from a preset name or file path (as the CLI does)."""
    if isinstance(value, model):
        return value
    if isinstance(value, BaseModel):
        raise SpecTypeError(f"{kind}: expected a {model.__name__}, a preset name or a file path, "
                            f"got a {type(value).__name__}")
    return loader(value)


def _specs(workload, hardware, overrides=None, methods=None, seed=None, steps=None):
    """The workload and chip of a run: loaded, with methods/seed/steps and dotted-path overrides."""
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    wl = _as_spec(workload, load_workload, WorkloadSpec, "workload")
    hw = _as_spec(hardware, load_hardware, HardwareSpec, "hardware")
    wl, hw = apply_overrides(wl, hw, overrides)
    for name, value in (("seed", seed), ("steps", steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
            raise SpecTypeError(f"{name}: expected an integer, got {value!r}")
    try:
        return with_overrides(wl, methods, seed, steps), hw
    except ValidationError as exc:
        raise OverrideError("arguments", validation_problems(exc)) from None


def with_overrides(workload: WorkloadSpec, methods=None, seed=None, steps=None) -> WorkloadSpec:
    """A copy of `workload` with command-line overrides applied and validated."""
    update = {}
    if methods is not None:
        update["methods"] = check_methods(methods)
    if seed is not None:
        update["seed"] = int(seed)
    if steps is not None:
        update["training"] = workload.training.model_copy(update={"steps": int(steps)})
    data = workload.model_dump()
    data.update({k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in update.items()})
    return WorkloadSpec.model_validate(data)


def gpu_estimates(workload: WorkloadSpec) -> dict:
    """What each configured GPU would spend on the same training (see cosim.gpu)."""
    from cosim.gpu.model import Calibration, estimate_training
    from cosim.specs.gpu import load_calibration, load_gpu

    arch = workload.network.build()
    spec = load_calibration()
    out = {}
    for name in workload.gpus:
        est = estimate_training(arch, workload.training.batch_size, workload.training.steps,
                                load_gpu(name), Calibration(spec.fitted, spec.assumed))
        out[name] = {k: est[k] for k in ("gpu", "time_s_per_step", "energy_j_per_step", "bands",
                                         "time_s_run", "energy_j_run", "bands_run", "bound")}
    return out


@dataclass(frozen=True)
class Checkpointing:
    """Checkpoint each method's training into `folder` every `every` steps (None: only when a
    method finishes); with `resume`, continue from what the folder holds."""

    folder: Path
    every: int | None = None
    resume: bool = False

    def for_method(self, wl: WorkloadSpec, hw: HardwareSpec, method: str) -> Checkpoint:
        return Checkpoint(Path(self.folder) / f"{method}.ckpt", self.every, fingerprint(wl, hw, method))


def run(workload=DEFAULT_WORKLOAD, hardware=DEFAULT_HARDWARE, methods=None, seed=None, steps=None,
        progress: bool = False, chunk_steps: int = 1, fidelity: str | None = None,
        checkpointing: Checkpointing | None = None, source_files: tuple | None = None,
        jobs: int = 1, blas_threads: int | None = 1, set: dict | None = None) -> RunResult:
    """Train `workload` (spec or YAML path) on `hardware` with each method; see RunResult.
    Methods train in `jobs` processes at most (the same results as one), each with its BLAS
    pools limited to `blas_threads` threads (None: as they are; see cosim.sim.jobs).
    `fidelity` ("transaction" or "detailed") overrides the hardware spec's; `checkpointing`
    saves (and with resume, continues from) each method's state; `source_files` (workload path,
    hardware path) names the files specs passed as objects came from, for the provenance;
    `set` replaces fields by dotted path, e.g. {"hardware.adc.bits": 6} (see cosim.specs.overrides)."""
    wl, hw = _specs(workload, hardware, set, methods, seed, steps)
    if wl.data is None:
        raise SpecError(workload if isinstance(workload, (str, Path)) else wl.name,
                        [("data", "missing: this workload is shapes-only; train needs data "
                                  "(use `cosim cost` for its cost-only estimate)")])
    if fidelity is not None:
        hw = HardwareSpec.model_validate({**hw.model_dump(), "fidelity": fidelity})
    arch = wl.network.build()
    task = load_task(wl.data, arch.input_shape)
    train_one = partial(_train_method, wl=wl, hw=hw, task=task, chunk_steps=chunk_steps,
                        checkpointing=checkpointing)
    with _progress(progress, wl) as advance:
        trained = run_methods(train_one, list(wl.methods), advance, jobs, blas_threads)
    runs = [run_ for run_, _ in trained]
    resumed = {method: done for method, (_, done) in zip(wl.methods, trained)}
    summary = build_summary(wl, hw, runs, gpu_estimates(wl), task.baseline)
    sources = source_files or tuple(v if isinstance(v, (str, Path)) else None for v in (workload, hardware))
    summary["provenance"] = provenance(wl, hw, *(resolve_spec(s, kind) if s else None
                                                 for s, kind in zip(sources, ("workload", "hardware"))))
    summary["config_hash"] = summary["provenance"]["config_hash"]
    info = {"wall_s": {r.method: r.wall_s for r in runs},
            "wall_s_per_step": {r.method: r.wall_s / r.steps for r in runs},
            "seed": wl.seed, "python": platform.python_version(), "numpy": np.__version__,
            "versions": _versions()}
    if checkpointing and checkpointing.resume:
        info["resumed_at_step"] = resumed
    return RunResult(summary, _ledger_table(runs), _curves(runs), runs, info, wl, hw)


def run_seeds(workload=DEFAULT_WORKLOAD, hardware=DEFAULT_HARDWARE, seeds=(0,), checkpointing=None,
              **kwargs) -> RunResult:
    """`run` once per training seed; the first seed's result, whose summary gains `seeds`: per
    method mean and 95 % confidence interval over the seeds (see cosim.report.seeds). Keyword
    arguments are run's; each seed checkpoints in its own subfolder."""
    from dataclasses import replace

    from cosim.report.seeds import seed_statistics

    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"seeds must be distinct integers >= 0, got {seeds}")
    results = [run(workload, hardware, seed=seed, checkpointing=checkpointing and replace(
        checkpointing, folder=Path(checkpointing.folder) / f"seed_{seed}"), **kwargs) for seed in seeds]
    first = results[0]
    first.seed_summaries = {seed: r.summary for seed, r in zip(seeds, results)}
    if len(seeds) > 1:
        first.summary["seeds"] = seed_statistics([r.summary for r in results])
    first.run_info["wall_s_per_seed"] = {seed: sum(r.run_info["wall_s"].values()) for seed, r in zip(seeds, results)}
    return first


def _train_method(method, advance, wl, hw, task, chunk_steps, checkpointing) -> tuple[MethodRun, int]:
    """One method's training, continued from its checkpoint when resuming; (run, steps it resumed at)."""
    checkpoint = checkpointing.for_method(wl, hw, method) if checkpointing else None
    stored = checkpoint.load(task) if checkpoint and checkpointing.resume else None
    if stored and stored["kind"] == "done":
        advance(method, wl.training.steps)
        return stored["run"], wl.training.steps
    trainer = Trainer(method, wl, hw, task, chunk_steps=chunk_steps, checkpoint=checkpoint)
    done = trainer.restore(stored) if stored else 0
    trainer.progress = advance(method, done)
    result = trainer.train()
    if checkpoint:
        checkpoint.save_done(result, task)
    return result, done


@dataclass
class CostResult:
    summary: dict                   # deterministic (cost.json)
    wall_s: dict                    # per method, seconds of wall time
    estimates: list = field(repr=False, default_factory=list)


def cost(workload, hardware=DEFAULT_HARDWARE, methods=None, progress: bool = False,
         set: dict | None = None) -> CostResult:
    """Cost-only estimate of one training step and one inference per method, from layer shapes
    and update statistics (the workload's `cost_only` section); see cosim.sim.cost_only. `set`
    replaces fields by dotted path, as in `run`."""
    from cosim.report.cost import build_cost_summary
    from cosim.sim.cost_only import CostModel

    wl, hw = _specs(workload, hardware, set, methods)
    model = CostModel(wl, hw)
    estimates = []
    with _progress(progress, wl, total=1) as advance:
        for method in wl.methods:
            tick = advance(method)
            estimates.append(model.estimate(method))
            if tick:
                tick()
    summary = build_cost_summary(wl, hw, model.arch.name, estimates, gpu_estimates(wl),
                                 model.expected_eapu_fraction())
    return CostResult(summary, {e.method: e.wall_s for e in estimates}, estimates)


def _ledger_table(runs: list[MethodRun]) -> pd.DataFrame:
    frames = []
    for r in runs:
        table = r.ledger.per_step(r.steps).add_prefix("energy_j.")
        table.insert(0, "method", r.method)
        table["loss"] = r.loss
        table["cells_written"] = r.cells_written
        table["device_writes"] = r.device_writes
        table["pulses"] = r.pulses
        frames.append(table.rename_axis("step").reset_index())
    return pd.concat(frames, ignore_index=True).fillna(0.0)


def _curves(runs: list[MethodRun]) -> pd.DataFrame:
    return pd.DataFrame([{"method": r.method, "step": step, **scores}
                         for r in runs for step, scores in zip(r.eval_steps, r.scores)])


def _versions() -> dict:
    import importlib.metadata as md
    names = ["cosim", "numpy", "simpy", "pandas", "pydantic", "scikit-learn"]
    out = {}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


class _progress:
    """A rich progress bar with one task per method (silent when disabled)."""

    def __init__(self, enabled: bool, wl: WorkloadSpec, total: int | None = None):
        self.enabled, self.wl, self.total = enabled, wl, total

    def __enter__(self):
        if not self.enabled:
            return lambda method, done=0: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        self.bar = Progress(TextColumn("{task.description:>14}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn())
        self.bar.__enter__()

        def advance(method: str, done: int = 0):
            task = self.bar.add_task(method, total=self.total or self.wl.training.steps, completed=done)
            return lambda: self.bar.advance(task)
        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)


def write_outputs(result: RunResult, out_dir: str | Path, trace: bool = False,
                  max_trace_events: int | None = None) -> Path:
    """summary.json, run_info.json, the resolved workload.yaml and hardware.yaml, per-step ledger
    CSV, test-metric CSV, report.md/.html, figures; with `trace`, trace.json for ui.perfetto.dev (at most `max_trace_events` spans, see
    cosim.report.trace)."""
    from cosim.report.render import write_report
    from cosim.report.trace import DEFAULT_MAX_EVENTS, write_trace

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result.summary, indent=2, sort_keys=True) + "\n")
    (out / "run_info.json").write_text(json.dumps(result.run_info, indent=2, sort_keys=True) + "\n")
    if len(result.seed_summaries) > 1:          # run_seeds: every seed's own summary
        (out / "seeds").mkdir(exist_ok=True)
        for seed, summary in result.seed_summaries.items():
            (out / "seeds" / f"summary_seed_{seed}.json").write_text(
                json.dumps(summary, indent=2, sort_keys=True) + "\n")
    if result.workload is not None and result.hardware is not None:
        write_resolved_specs(out, result.workload, result.hardware)
    result.ledger.to_csv(out / "ledger_steps.csv", index=False)
    result.curves.to_csv(out / "test_metrics.csv", index=False)
    write_report(result, out)
    if trace:
        write_trace(result.runs, out / "trace.json", max_trace_events or DEFAULT_MAX_EVENTS)
    return out
