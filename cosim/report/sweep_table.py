"""A sweep folder on disk and its results table.

    SWEEP_DIR/sweep.json           name, axes and every planned point (index, key, values, seed, config)
    SWEEP_DIR/sweep.yaml           copy of the sweep file
    SWEEP_DIR/points/KEY/          one finished point: point.json, workload.yaml and hardware.yaml as
                                   resolved (+ summary.json, run_info.json, ledger_steps.csv,
                                   test_metrics.csv when it ran; error text when it raised)

KEY hashes the point's axis values, seed and `config`, the content hash of its resolved workload
and hardware (cosim.specs.provenance): a point whose configuration changed (an edited `steps:` or
base file) gets a new key, so a resume reruns it rather than keeping results of the old one.
    SWEEP_DIR/results.csv          one row per (point, method); rows appended as points finish
    SWEEP_DIR/results.parquet      the same table, rewritten (atomically) after every point

The point folders are the source of truth: a folder appears in one rename once all its files are
written, so a killed sweep leaves only whole points, and the tables can always be rebuilt from them.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

POINTS = "points"
RESULT_COLUMNS = [
    "method", "status", "metric_name", "metric", "energy_j", "energy_chip_j", "energy_chip_bus_j",
    "energy_setup_j", "latency_s", "latency_per_step_s", "cell_writes", "pulses",
    "fraction_updated_per_step", "max_writes_per_cell", "steps_to_first_cell_failure",
    "steps_to_1pct_cells_failed", "final_loss", "error"]
KEY_COLUMNS = ["point", "key", "seed"]


def table_columns(axes: list[str]) -> list[str]:
    return KEY_COLUMNS + list(axes) + RESULT_COLUMNS


def method_row(m: dict) -> dict:
    """The table's columns of one method's entry in summary.json."""
    energy, life, writes = m["energy_j"], m["lifetime"], m["writes"]
    return {"status": "ok", "metric_name": m["metric"]["name"], "metric": m["metric"]["value"],
            "energy_j": energy["total"],
            "energy_chip_j": energy["by_boundary"]["chip"],
            "energy_chip_bus_j": energy["by_boundary"]["chip_bus"], "energy_setup_j": energy["setup"],
            "latency_s": m["latency_s"]["total"], "latency_per_step_s": m["latency_s"]["per_step"],
            "cell_writes": writes["cell_writes"], "pulses": writes["pulses"],
            "fraction_updated_per_step": writes["fraction_updated_per_step"],
            "max_writes_per_cell": life["max_writes_per_cell"],
            "steps_to_first_cell_failure": life["steps_to_first_cell_failure"],
            "steps_to_1pct_cells_failed": life["steps_to_1pct_cells_failed"],
            "final_loss": m["final_loss"]}


def point_rows(point: dict, summary: dict | None) -> list[dict]:
    """Rows of one finished point: one per method, or a single error row."""
    base = {"point": point["index"], "key": point["key"], "seed": point["seed"],
            **{axis: _cell(v) for axis, v in point["values"].items()}}
    if point["status"] != "ok":
        return [{**base, "method": None, "status": "error", "error": point["error"]}]
    return [{**base, "method": name, **method_row(m)} for name, m in summary["methods"].items()]


def _cell(value):
    """Axis values as table cells: lists (e.g. several methods) joined into one string."""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_plan(sweep_dir: str | Path) -> dict:
    path = Path(sweep_dir) / "sweep.json"
    if not path.exists():
        raise FileNotFoundError(f"{sweep_dir}: not a sweep folder (no sweep.json)")
    return json.loads(path.read_text())


def finished_points(sweep_dir: str | Path) -> dict[str, dict]:
    """key -> point.json of every whole point folder (partial folders are ignored)."""
    root = Path(sweep_dir) / POINTS
    found = {}
    for meta in sorted(root.glob("*/point.json")) if root.exists() else []:
        if not meta.parent.name.startswith("."):
            found[meta.parent.name] = json.loads(meta.read_text())
    return found


def load_rows(sweep_dir: str | Path) -> list[dict]:
    """Every row of the finished points of the current plan, in point order, from the point folders
    (folders of points an edited sweep file no longer has are left alone but not reported)."""
    rows = []
    planned = {p["key"]: p["index"] for p in read_plan(sweep_dir)["points"]}
    points = [{**p, "index": planned[k]} for k, p in finished_points(sweep_dir).items() if k in planned]
    for point in sorted(points, key=lambda p: p["index"]):
        folder = Path(sweep_dir) / POINTS / point["key"]
        summary = json.loads((folder / "summary.json").read_text()) if point["status"] == "ok" else None
        rows.extend(point_rows(point, summary))
    return rows


def as_table(rows: list[dict], axes: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=table_columns(axes))


def load_table(sweep_dir: str | Path) -> pd.DataFrame:
    return as_table(load_rows(sweep_dir), read_plan(sweep_dir)["axes"])


def append_csv(path: Path, rows: list[dict], axes: list[str]) -> None:
    """Append rows to the CSV (writing the header first if the file is new)."""
    new = not path.exists()
    with path.open("a", newline="") as handle:
        as_table(rows, axes).to_csv(handle, header=new, index=False)
        handle.flush()
        os.fsync(handle.fileno())


def write_parquet(path: Path, rows: list[dict], axes: list[str]) -> None:
    """Rewrite the whole Parquet table through a temporary file, so a kill never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    _parquet_safe(as_table(rows, axes)).to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _parquet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """Axis columns mixing numbers and text (e.g. a value list and a file) are stored as text."""
    for column in table.columns:
        kinds = {type(v) for v in table[column].dropna()}
        if len(kinds) > 1 and not kinds <= {int, float}:
            table[column] = table[column].map(lambda v: None if v is None else str(v))
    return table


def rebuild_tables(sweep_dir: str | Path) -> list[dict]:
    """Rewrite results.csv and results.parquet from the point folders; returns the rows."""
    sweep_dir = Path(sweep_dir)
    axes = read_plan(sweep_dir)["axes"]
    rows = load_rows(sweep_dir)
    csv = sweep_dir / "results.csv"
    csv.unlink(missing_ok=True)
    append_csv(csv, rows, axes)
    write_parquet(sweep_dir / "results.parquet", rows, axes)
    return rows
