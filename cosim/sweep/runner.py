"""Run a sweep: validate every point, run the missing ones, write each as soon as it finishes."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cosim.report.sweep_table import (POINTS, append_csv, finished_points, point_rows, read_plan,
                                      rebuild_tables, write_json, write_parquet)
from cosim.report.provenance import write_resolved_specs
from cosim.specs.base import resolve_spec
from cosim.specs.sweep import SweepPoint, SweepSpec, expand_sweep, load_sweep
from cosim.sweep.backends import dask_results, default_workers, local_results


class SweepExists(Exception):
    """The output folder holds another sweep, or this one without --resume."""


@dataclass
class SweepOutcome:
    out: Path
    points: int                       # planned
    ran: int                          # run by this call
    skipped: int                      # already finished (resume)
    stale: int = 0                    # finished before, but their configuration changed since: rerun
    errors: list[str] = field(default_factory=list)   # keys of points that raised (this call)


def plan_sweep(path: str | Path) -> tuple[SweepSpec, list[SweepPoint]]:
    """Load the sweep file and build + validate every point (SpecError on the first bad one)."""
    path = resolve_spec(path, "sweep")    # a shipped sweep by name, or a file
    spec = load_sweep(path)
    return spec, expand_sweep(spec, path)


def run_sweep(path: str | Path, out: str | Path | None = None, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, retry_errors: bool = False,
              progress: bool = False, report: bool = True, blas_threads: int | None = None) -> SweepOutcome:
    """Run the sweep file at `path` into `out` (default sweeps/<name>); see cosim.report.sweep_table.
    `blas_threads`: BLAS threads per local worker (default: the cores shared among the workers)."""
    path = resolve_spec(path, "sweep")
    spec, points = plan_sweep(path)
    out = Path(out or Path("sweeps") / spec.name)
    store = _SweepStore(out, spec, points, Path(path))
    store.prepare(resume)
    todo = store.missing(retry_errors)
    tasks = [{"key": p.key, "workload": p.workload, "hardware": p.hardware} for p in todo]
    results = (iter(()) if not tasks else dask_results(tasks, scheduler) if scheduler
               else local_results(tasks, workers or default_workers(), blas_threads))
    outcome = SweepOutcome(out, len(points), len(todo), len(points) - len(todo), store.stale(todo))
    with _progress(progress, spec.name, len(todo)) as advance:
        for result in results:
            store.record(result)
            if result["status"] != "ok":
                outcome.errors.append(result["key"])
            advance(len(outcome.errors))
    if report:
        from cosim.report.sweep_report import write_sweep_report
        write_sweep_report(out)
    return outcome


class _SweepStore:
    """The sweep folder: its plan, the finished points, the results tables."""

    def __init__(self, out: Path, spec: SweepSpec, points: list[SweepPoint], source: Path):
        self.out, self.spec, self.points, self.source = out, spec, points, source
        self.by_key = {p.key: p for p in points}
        self.axes = list(points[0].values) if points else []
        self.rows: list[dict] = []

    def prepare(self, resume: bool) -> None:
        plan = {"name": self.spec.name, "axes": self.axes,
                "points": [{"index": p.index, "key": p.key, "values": p.values, "seed": p.seed,
                            "config": p.config} for p in self.points]}
        if (self.out / "sweep.json").exists():
            self._check_same_sweep(plan, resume)
        (self.out / POINTS).mkdir(parents=True, exist_ok=True)
        for partial in (self.out / POINTS).glob(".partial-*"):
            shutil.rmtree(partial)          # a point a kill interrupted while it was being written
        write_json(self.out / "sweep.json", plan)
        shutil.copyfile(self.source, self.out / "sweep.yaml")
        self.rows = rebuild_tables(self.out)

    def _check_same_sweep(self, plan: dict, resume: bool) -> None:
        old = read_plan(self.out)
        if not finished_points(self.out):
            return                          # nothing finished there yet: nothing to protect
        if not resume:
            raise SweepExists(f"{self.out} already holds sweep {old['name']!r}; pass --resume to run "
                              f"only its missing points, or choose another --out")
        if old["name"] != plan["name"] or old["axes"] != plan["axes"]:
            raise SweepExists(f"{self.out} holds sweep {old['name']!r} with axes {old['axes']}, not "
                              f"{plan['name']!r} with axes {plan['axes']}; choose another --out")

    def missing(self, retry_errors: bool) -> list[SweepPoint]:
        done = finished_points(self.out)
        keep = {k for k, meta in done.items() if meta["status"] == "ok" or not retry_errors}
        return [p for p in self.points if p.key not in keep]

    def stale(self, todo: list[SweepPoint]) -> int:
        """Points to run that have a finished folder (same axis values and seed) computed from
        another configuration, e.g. before `steps:` or a base file was edited (that folder stays,
        but is no longer part of the results)."""
        planned = {_identity(p.values, p.seed) for p in todo}
        done = {_identity(m["values"], m["seed"]) for k, m in finished_points(self.out).items()
                if k not in self.by_key}
        return len(planned & done)

    def record(self, result: dict) -> None:
        """Write the point's folder (one rename makes it appear), then append its table rows."""
        point = self.by_key[result["key"]]
        meta = {"index": point.index, "key": point.key, "values": point.values, "seed": point.seed,
                "config": point.config, "status": result["status"], "error": result.get("error"), "wall_s": result["wall_s"]}
        final = self.out / POINTS / point.key
        partial = self.out / POINTS / f".partial-{point.key}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        if result["status"] == "ok":
            write_json(partial / "summary.json", result["summary"])
            write_json(partial / "run_info.json", result["run_info"])
            result["ledger"].to_csv(partial / "ledger_steps.csv", index=False)
            result["curves"].to_csv(partial / "test_metrics.csv", index=False)
        else:
            (partial / "error.txt").write_text(result["traceback"])
        write_resolved_specs(partial, point.workload, point.hardware)
        write_json(partial / "point.json", meta)
        if final.exists():                  # a retried error point: its old row goes too
            shutil.rmtree(final)
            partial.rename(final)
            self.rows = rebuild_tables(self.out)
            return
        partial.rename(final)
        rows = point_rows(json.loads((final / "point.json").read_text()), result.get("summary"))
        self.rows.extend(rows)
        append_csv(self.out / "results.csv", rows, self.axes)
        write_parquet(self.out / "results.parquet", self.rows, self.axes)


def _identity(values: dict, seed: int) -> str:
    return json.dumps({"values": values, "seed": seed}, sort_keys=True, default=str)


class _progress:
    """A rich progress bar over the points to run (silent when disabled)."""

    def __init__(self, enabled: bool, name: str, total: int):
        self.enabled, self.name, self.total = enabled, name, total

    def __enter__(self):
        if not self.enabled:
            return lambda errors: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[errors]} errors"), TimeElapsedColumn())
        self.bar.__enter__()
        task = self.bar.add_task(f"sweep {self.name}", total=self.total, errors=0)
        return lambda errors: self.bar.update(task, advance=1, errors=errors)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)
