"""What programming did over a run, beyond energy: per-step programming time, write-verify
iteration and pulse-count distributions, verify reads, and per-device / per-tile wear and faults."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cosim.devices.tile_map import TileMap


def steps_to_failure(writes: np.ndarray, endurance: np.ndarray, steps: int) -> np.ndarray:
    """Per device, projected steps until its writes reach its endurance at the run's write rate
    (inf for a device never written)."""
    rate = writes / steps
    return np.where(rate > 0, endurance / np.where(rate > 0, rate, 1.0), np.inf)


def _add_counts(hist: np.ndarray, values: np.ndarray) -> np.ndarray:
    counts = np.bincount(values.astype(np.int64))
    if counts.size > hist.size:
        hist = np.pad(hist, (0, counts.size - hist.size))
    hist[:counts.size] += counts
    return hist


@dataclass
class WriteStats:
    """Accumulated over a run's training steps (setup excluded)."""

    steps: int
    program_time_s: np.ndarray = None          # per step: simulated time spent in programming
    pulse_hist: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))       # devices by pulses
    iteration_hist: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))   # devices by verify iterations
    verify_reads: int = 0
    unconverged: int = 0
    faults: dict = field(default_factory=dict)
    tile_wear: list = field(default_factory=list)

    def __post_init__(self):
        if self.program_time_s is None:
            self.program_time_s = np.zeros(self.steps)

    def add_program_time(self, step: int, seconds: float) -> None:
        self.program_time_s[step] += seconds

    def add_outcome(self, outcome) -> None:
        pulses = outcome.device_pulses
        self.pulse_hist = _add_counts(self.pulse_hist, np.rint(pulses[pulses > 0]))
        if hasattr(outcome, "iterations"):       # a write-verify outcome
            self.iteration_hist = _add_counts(self.iteration_hist, outcome.iterations)
            self.verify_reads += int(outcome.reads.sum())
            self.unconverged += int((~outcome.converged).sum())


def tile_wear(tiles: TileMap, writes: np.ndarray, endurance: np.ndarray, steps: int) -> list[dict]:
    """Per tile of a matrix tiled as `tiles`: mean and max training writes per device and
    projected steps until its first device fails (endurance / write rate)."""
    out = []
    for name, rows, cols in tiles.tile_blocks():
        w, e = writes[:, rows, cols], endurance[:, rows, cols]
        first = float(np.min(steps_to_failure(w, e, steps)))
        out.append({"tile": name, "mean_writes": float(w.mean()), "max_writes": int(w.max()),
                    "steps_to_first_failure": first if np.isfinite(first) else None})
    return out


def collect_wear(run, matrices: dict, setup_writes: dict, steady_start: dict | None = None,
                 steady_steps: int = 0, setup_pulses: dict | None = None,
                 steady_pulses_start: dict | None = None) -> None:
    """Fill `run` with per-device training writes and pulses, endurance (and what it counts),
    write maps, tile wear and faults; with `steady_start` (write counts when the steady-state
    window began, `steady_steps` before the end) also the writes and pulses of that window, from
    which lifetime is projected. Tile wear counts in the endurance's unit."""
    writes, endurance, steady, pulses, steady_p = [], [], [], [], []
    faults = {"devices": 0, "stuck_at_start": 0, "stuck_at_end": 0, "remapped_columns": 0}
    for name, m in matrices.items():
        trained = (m.devices.write_count - setup_writes[name]).astype(np.float64)
        pulsed = m.devices.pulse_count.astype(np.float64) - (setup_pulses or {}).get(name, 0)
        writes.append(trained.ravel())
        pulses.append(pulsed.ravel())
        if steady_start is not None:
            steady.append((m.devices.write_count - steady_start[name]).astype(np.float64).ravel())
            if steady_pulses_start is not None:
                steady_p.append((m.devices.pulse_count.astype(np.float64) - steady_pulses_start[name]).ravel())
        endurance.append(m.devices.endurance.ravel())
        run.endurance_unit = m.devices.spec.endurance_unit
        run.write_maps[name] = trained.sum(axis=0)
        worn = pulsed if run.endurance_unit == "pulses" else trained
        run.write_stats.tile_wear += tile_wear(m.tile_map, worn, m.devices.endurance, run.steps)
        faults["devices"] += m.devices.x.size
        faults["stuck_at_start"] += m.devices.stuck_at_start
        faults["stuck_at_end"] += int(m.devices.stuck.sum())
        faults["remapped_columns"] += m.remapped_cols
    run.write_stats.faults = faults
    run.training_writes, run.training_pulses = np.concatenate(writes), np.concatenate(pulses)
    if steady_start is not None and steady_steps > 0:
        run.steady_writes, run.steady_steps = np.concatenate(steady), steady_steps
        if steady_p:
            run.steady_pulses = np.concatenate(steady_p)
    run.endurance = np.concatenate(endurance)
