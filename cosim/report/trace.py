"""trace.json: the ledger as a Chrome/Perfetto trace (JSON trace-event format).

One process per method, one track (thread) per component: each tile, DAC bank, ADC bank, the
bus and the host, plus one derived track per (matrix, write controller) whose spans cover each
programming phase. Every transaction is a complete ("X") span named by its operation, with its
energy and per-action counts and energies in args. Times are microseconds of simulated time.

Bounded size: when the spans exceed `max_events`, whole training steps are sampled
evenly (always the first and the last; setup, step -1, only if it fits) until the budget is
spent; the steps kept are listed in `otherData.steps_kept`. Gaps in the timeline are the
steps left out.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cosim.devices.tile_map import matrix_of_tile
from cosim.hardware.registry import CONTROLLERS
from cosim.sim.ledger import SETUP_STEP

DEFAULT_MAX_EVENTS = 50_000
# Write operation -> the track name of the controller that runs it (e.g. "verify_controller").
CONTROLLER_TRACKS = {cls.op: f"{mode}_controller" for mode, cls in CONTROLLERS.items()}
PS_PER_US = 1e6


def steps_to_keep(rows_per_step: pd.Series, budget: int) -> list[int]:
    """Steps whose transactions fit in `budget`: all when they fit, else evenly spaced ones."""
    if rows_per_step.sum() <= budget:
        return sorted(rows_per_step.index)
    training = rows_per_step[rows_per_step.index != SETUP_STEP]
    per_step = max(float(training.mean()), 1.0)
    count = int(max(budget // per_step, 1))
    picks = np.unique(np.linspace(0, len(training) - 1, min(count, len(training))).round().astype(int))
    kept = [int(s) for s in training.index[picks]]
    spare = budget - int(training.loc[kept].sum())
    if SETUP_STEP in rows_per_step.index and rows_per_step[SETUP_STEP] <= spare:
        kept.insert(0, SETUP_STEP)
    return kept


def _action_args(actions: pd.DataFrame) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for tx, action, count, energy in actions[["tx", "action", "count", "energy_j"]].itertuples(index=False):
        out.setdefault(int(tx), {})[action] = {"count": float(count), "energy_j": float(energy)}
    return out


def controller_spans(tx: pd.DataFrame) -> pd.DataFrame:
    """One span per (step, matrix, write operation): from its first tile's start to its last end."""
    prog = tx[tx.op.isin(list(CONTROLLER_TRACKS)) & (tx.kind == "tile")]
    if prog.empty:
        return prog.assign(matrix=[])
    prog = prog.assign(matrix=prog.component.map(matrix_of_tile))
    spans = prog.groupby(["step", "matrix", "op"], sort=False).agg(
        issue_ps=("issue_ps", "min"), start_ps=("start_ps", "min"), end_ps=("end_ps", "max"),
        energy_j=("energy_j", "sum")).reset_index()
    return spans.assign(component=spans.matrix + "." + spans.op.map(CONTROLLER_TRACKS), kind="controller")


def method_events(pid: int, method: str, tx: pd.DataFrame, actions: pd.DataFrame) -> list[dict]:
    """Metadata, then one X span per transaction (and controller span) of one method."""
    events = [{"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": method}}]
    spans = pd.concat([tx.assign(row=tx.index), controller_spans(tx).assign(row=-1)], ignore_index=True)
    per_tx = _action_args(actions[actions.tx.isin(tx.index)])
    tracks = {name: i + 1 for i, name in enumerate(sorted(spans.component.unique()))}
    for name, tid in tracks.items():
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid, "args": {"sort_index": tid}})
    for row in spans.itertuples(index=False):
        args = {"energy_j": float(row.energy_j), "step": int(row.step),
                "issue_us": row.issue_ps / PS_PER_US, **per_tx.get(int(row.row), {})}
        events.append({"name": row.op, "cat": row.kind, "ph": "X", "pid": pid, "tid": tracks[row.component],
                       "ts": row.start_ps / PS_PER_US, "dur": (row.end_ps - row.start_ps) / PS_PER_US,
                       "args": args})
    return events


def chrome_trace(runs, max_events: int = DEFAULT_MAX_EVENTS) -> dict:
    """The trace-event JSON object of all methods' ledgers; each method gets an equal share of
    `max_events`."""
    budget = max(max_events // max(len(runs), 1), 1)
    events, kept = [], {}
    for pid, run in enumerate(runs, start=1):
        tx = run.ledger.transactions()
        spans_per_step = tx.groupby("step").size().add(controller_spans(tx).groupby("step").size(), fill_value=0)
        keep = steps_to_keep(spans_per_step, budget)
        kept[run.method] = keep
        tx = tx[tx.step.isin(keep)]
        events += method_events(pid, run.method, tx, run.ledger.actions())
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"generator": "cosim", "time_unit": "us of simulated time",
                          "max_events": max_events, "steps_kept": kept,
                          "steps_total": {r.method: r.steps for r in runs}}}


def write_trace(runs, path: Path, max_events: int = DEFAULT_MAX_EVENTS) -> Path:
    path.write_text(json.dumps(chrome_trace(runs, max_events), separators=(",", ":")))
    return path
