"""Applies open-loop write plans: one pulse train per device, no read-back.

Rows of a tile are programmed one after another, all selected cells of a row in parallel;
SET and RESET pulses need different voltages, so a row takes (max SET + max RESET pulses) ·
pulse width. Tiles program in parallel.
"""
from __future__ import annotations

import numpy as np

from cosim.costs.actions import ActionCosts
from cosim.devices.programming import program_open_loop
from cosim.hardware.cell_map import map_rows, per_row_max, per_tile_device_sum, per_tile_sum


def row_pulse_time(costs: ActionCosts, rows, pulses: np.ndarray, potentiating: np.ndarray) -> np.ndarray:
    """Seconds per physical row: its longest SET train, then its longest RESET train."""
    up = np.where(potentiating, pulses, 0.0)
    return costs.pulse_time(per_row_max(rows.row_key, up, rows.n_rows)
                            + per_row_max(rows.row_key, pulses - up, rows.n_rows))


def pulse_actions(costs: ActionCosts, matrix, devices: np.ndarray, pulses: np.ndarray, rows):
    """Per tile: (pulses, their energy in J at each device's conductance)."""
    g = matrix.devices.conductance().flat[devices]
    return (per_tile_device_sum(pulses, rows),
            per_tile_device_sum(costs.pulse_energy(pulses * g), rows))


class OpenLoopController:
    kind = "open_loop_controller"
    op = "open_loop_write"

    def __init__(self, env, costs: ActionCosts):
        self.env, self.costs = env, costs

    def program(self, matrix, tiles: list, plan):
        """SimPy process: write `plan` into `matrix`, whose tiles are `tiles` (row-major)."""
        outcome = program_open_loop(matrix.devices, plan.cells, plan.delta / matrix.weight_bound,
                                    self.env.now * 1e-12)
        if outcome.devices.size == 0:
            return outcome
        tile_spec = self.costs.hw.tile
        rows = map_rows(outcome.devices, matrix.devices.shape, tile_spec.rows, matrix.tile_weight_cols)
        row_time = row_pulse_time(self.costs, rows, outcome.pulses, outcome.potentiating)
        pulses, energy = pulse_actions(self.costs, matrix, outcome.devices, outcome.pulses, rows)
        latency = per_tile_sum(row_time, rows)
        events = [tiles[t].program(self.op, latency[t], {"program_pulse": (pulses[t], energy[t])})
                  for t in np.flatnonzero(pulses)]
        yield self.env.all_of(events)
        return outcome
