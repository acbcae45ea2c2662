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
        rows = map_rows(outcome.devices, matrix.devices.shape, tile_spec.rows, tile_spec.cols)
        up = np.where(outcome.potentiating, outcome.pulses, 0.0)
        down = outcome.pulses - up
        row_time = self.costs.pulse_time(per_row_max(rows.row_key, up, rows.n_rows)
                                         + per_row_max(rows.row_key, down, rows.n_rows))
        g = matrix.devices.conductance().flat[outcome.devices]
        energy = per_tile_device_sum(self.costs.pulse_energy(outcome.pulses * g), rows)
        pulses = per_tile_device_sum(outcome.pulses, rows)
        latency = per_tile_sum(row_time, rows)
        events = [tiles[t].program(self.op, latency[t], {"program_pulse": (pulses[t], energy[t])})
                  for t in np.flatnonzero(pulses)]
        yield self.env.all_of(events)
        return outcome
