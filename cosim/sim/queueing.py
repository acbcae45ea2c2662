"""Queueing statistics of the chip's components, from the ledger's transactions.

Per component over a time window [t0, t1): utilisation (busy time / window), waiting time
(start - issue) percentiles, throughput λ, mean time in system W (end - issue) and the
time-averaged number in system L, integrated from the arrival/departure timeline. Little's law
L = λ·W holds whenever every transaction counted arrives and leaves inside the window; the tests
check it on real runs. In detailed fidelity each ledger row is one unit (a conversion slot, a
pulse), so the statistics describe units, not whole transactions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

PS = 1e-12


def time_average_in_system(issue_ps: np.ndarray, end_ps: np.ndarray, t0: int, t1: int) -> float:
    """∫ N(t) dt / (t1 - t0), N(t) = transactions issued and not yet ended, by sweeping the
    sorted arrivals (+1) and departures (-1)."""
    times = np.concatenate([issue_ps, end_ps]).astype(np.int64)
    steps = np.concatenate([np.ones(issue_ps.size), -np.ones(end_ps.size)])
    order = np.argsort(times, kind="stable")
    times, in_system = times[order], np.cumsum(steps[order])
    spans = np.diff(np.clip(np.append(times, t1), t0, t1))
    return float((in_system * spans).sum() / (t1 - t0)) if t1 > t0 else 0.0


def busy_time_ps(start_ps: np.ndarray, end_ps: np.ndarray) -> int:
    """Length of the union of [start, end) intervals (a server's busy time)."""
    if start_ps.size == 0:
        return 0
    order = np.argsort(start_ps, kind="stable")
    start, end = start_ps[order], np.maximum.accumulate(end_ps[order])
    gaps = np.maximum(start[1:] - end[:-1], 0)
    return int(end[-1] - start[0] - gaps.sum())


def component_stats(rows: pd.DataFrame, t0: int, t1: int) -> dict:
    issue, start, end = (rows[c].to_numpy(np.int64) for c in ("issue_ps", "start_ps", "end_ps"))
    window = (t1 - t0) * PS
    wait = (start - issue) * PS
    return {
        "kind": str(rows.kind.iloc[0]),
        "transactions": int(len(rows)),
        "utilisation": busy_time_ps(start, end) * PS / window if window else 0.0,
        "wait_s": {"p50": float(np.percentile(wait, 50)), "p99": float(np.percentile(wait, 99)),
                   "mean": float(wait.mean())},
        "throughput_per_s": len(rows) / window if window else 0.0,
        "mean_time_in_system_s": float(((end - issue) * PS).mean()),
        "mean_in_system": time_average_in_system(issue, end, t0, t1),
        "mean_waiting": time_average_in_system(issue, start, t0, t1),
    }


def queueing_stats(transactions: pd.DataFrame, t0: int, t1: int) -> dict[str, dict]:
    """Per component: statistics of its transactions issued in [t0, t1)."""
    rows = transactions[(transactions.issue_ps >= t0) & (transactions.issue_ps < t1)]
    return {name: component_stats(group, t0, t1) for name, group in rows.groupby("component", sort=True)}


def by_kind(stats: dict[str, dict]) -> dict[str, dict]:
    """Per component kind: how many, mean and max utilisation, worst p50/p99 wait."""
    out = {}
    for kind in sorted({s["kind"] for s in stats.values()}):
        mine = [s for s in stats.values() if s["kind"] == kind]
        util = [s["utilisation"] for s in mine]
        out[kind] = {"components": len(mine), "utilisation_mean": float(np.mean(util)),
                     "utilisation_max": float(np.max(util)),
                     "wait_p50_s_max": max(s["wait_s"]["p50"] for s in mine),
                     "wait_p99_s_max": max(s["wait_s"]["p99"] for s in mine)}
    return out
