"""Side-by-side comparison of finished runs (folders `cosim run` or a sweep point wrote): per
method the headline figures of each run with their ratio to the first run, and the fields of the
resolved specs (workload.yaml, hardware.yaml) that differ between the runs."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from cosim.report.provenance import RESOLVED_FILES
from cosim.specs.provenance import flat_fields

# (label, path into a method's summary entry, unit, key of its mean in a several-seed run's `seeds`)
QUANTITIES = [("metric", ("metric", "value"), "", "metric"),
              ("energy", ("energy_j", "total"), "J", "energy_j"),
              ("latency / step", ("latency_s", "per_step"), "s", "latency_s_per_step"),
              ("device writes", ("writes", "cell_writes"), "", None),
              ("steps to first failure", ("lifetime", "steps_to_first_cell_failure"), "",
               "steps_to_first_cell_failure")]


class NotARun(Exception):
    """A folder without the summary.json a run writes."""


def load_run(folder: str | Path) -> dict:
    """A run folder's summary and resolved specs (None where the run predates them)."""
    folder = Path(folder)
    if not (folder / "summary.json").is_file():
        raise NotARun(f"{folder}: not a run folder (no summary.json)")
    specs = {}
    for kind, name in RESOLVED_FILES.items():
        path = folder / name
        specs[kind] = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return {"folder": str(folder), "summary": json.loads((folder / "summary.json").read_text()), **specs}


def _get(entry: dict, path: tuple[str, ...]):
    for part in path:
        if not isinstance(entry, dict) or part not in entry:
            return None
        entry = entry[part]
    return entry


def _value(summary: dict, method: str, path: tuple[str, ...], seeds_key: str | None):
    """A method's figure in a run: the mean over its seeds when it has several, else its own."""
    stats = (summary.get("seeds") or {}).get("methods", {}).get(method, {})
    if seeds_key and seeds_key in stats:
        return stats[seeds_key]["mean"]
    return _get(summary["methods"].get(method, {}), path)


def compare_runs(runs: list[dict]) -> dict:
    """{"runs", "seeds", "metrics": [{method, quantity, values, ratios}], "spec_differences",
    "missing_specs"}. Ratios are each run's value ÷ the first run's (None where either is missing
    or zero); a run of several seeds contributes its means (device writes: its first seed's)."""
    methods = []
    for run in runs:
        methods += [m for m in run["summary"]["methods"] if m not in methods]
    metrics = []
    for method in methods:
        for label, path, unit, seeds_key in QUANTITIES:
            values = [_value(run["summary"], method, path, seeds_key) for run in runs]
            if label == "metric":
                names = {_get(r["summary"]["methods"].get(method, {}), ("metric", "name")) for r in runs}
                label = "/".join(sorted(n for n in names if n)) or label
            first = values[0]
            ratios = [v / first if isinstance(v, (int, float)) and isinstance(first, (int, float)) and first
                      else None for v in values]
            metrics.append({"method": method, "quantity": label, "unit": unit, "values": values,
                            "ratios": ratios})
    return {"runs": [r["folder"] for r in runs],
            "config_hash": [r["summary"].get("config_hash") for r in runs],
            "seeds": [(r["summary"].get("seeds") or {}).get("seeds", [r["summary"].get("seed")]) for r in runs],
            "metrics": metrics, "spec_differences": spec_differences(runs),
            "missing_specs": [r["folder"] for r in runs if r["workload"] is None or r["hardware"] is None]}


def spec_differences(runs: list[dict]) -> list[dict]:
    """Every resolved-spec field whose value is not the same in all runs that have the specs."""
    flat = [{f"{kind}.{k}": v for kind in RESOLVED_FILES for k, v in flat_fields(run[kind] or {}).items()}
            for run in runs if run["workload"] is not None and run["hardware"] is not None]
    if len(flat) < 2:
        return []
    names = sorted(set().union(*flat))
    return [{"field": n, "values": [f.get(n) for f in flat]} for n in names
            if len({json.dumps(f.get(n), sort_keys=True) for f in flat}) > 1]


def _cell(value, ratio, first: bool) -> str:
    if value is None:
        return "—"
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if first or ratio is None else f"{text} ({ratio:.3g}×)"


def comparison_tables(result: dict) -> tuple[list[list[str]], list[list[str]]]:
    """(metrics rows, spec-difference rows) with run labels A, B, C ... as column heads."""
    labels = [chr(ord("A") + i) if i < 26 else f"R{i}" for i in range(len(result["runs"]))]
    metrics = [["method", "quantity"] + labels]
    for row in result["metrics"]:
        quantity = f"{row['quantity']} ({row['unit']})" if row["unit"] else row["quantity"]
        metrics.append([row["method"], quantity] + [_cell(v, r, i == 0) for i, (v, r) in
                                                    enumerate(zip(row["values"], row["ratios"]))])
    specs = [["field"] + labels]
    specs += [[d["field"]] + [_cell(v, None, True) for v in d["values"]] for d in result["spec_differences"]]
    return metrics, specs
