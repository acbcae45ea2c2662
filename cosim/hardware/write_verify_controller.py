"""Closed-loop write-verify: per row, iterations of (verify read, then correction pulses) until
every cell of the row is within tolerance or the iteration cap is reached.

Row time = Σ over iterations of [verify read of the row's pending cells + (max SET + max RESET
pulses) · pulse width]; rows one after another, tiles in parallel. In detailed fidelity each
verify read of a row and each of its pulse slots is its own event.
"""
from __future__ import annotations

import numpy as np

from cosim.costs.actions import ActionCosts
from cosim.devices.programming import VerifyOutcome, program_verify_delta
from cosim.hardware.cell_map import map_rows, per_row_count, per_tile_device_sum, per_tile_sum
from cosim.hardware.open_loop_controller import (detailed_tile_events, inhibited_lines, pulse_actions,
                                                 pulse_slot_units, row_pulse_slots, write_actions)


class WriteVerifyController:
    kind = "write_verify_controller"
    op = "write_verify"
    plan_mode = "verify"

    def __init__(self, env, costs: ActionCosts, detailed: bool = False):
        self.env, self.costs, self.detailed = env, costs, detailed

    def program(self, matrix, tiles: list, plan):
        """SimPy process: write-verify `plan` into `matrix` (tiles row-major)."""
        wv = self.costs.hw.write_verify
        outcome = program_verify_delta(matrix.devices, plan.cells, matrix.to_fraction(plan.cells, plan.delta),
                                       wv.tolerance, wv.max_iterations, wv.max_pulses_per_iteration,
                                       wv.reads_per_verify, self.env.now * 1e-12)
        yield from self.execute(matrix, tiles, outcome)
        return outcome

    def execute(self, matrix, tiles: list, outcome: VerifyOutcome):
        """Schedule and price what a write-verify run did (also used for initial programming)."""
        if outcome.devices.size == 0:
            return
        rows = map_rows(outcome.devices, matrix.tile_map)
        if self.detailed:
            yield self.env.all_of(self._detailed_events(matrix, tiles, outcome, rows))
            return
        # Every iteration that read something (the loop stops at the first that read nothing),
        # all at once: per iteration and row, its devices read, its read time and pulse slots.
        read_any = outcome.reads.any(axis=1)
        iterations = read_any.size if read_any.all() else int(np.argmin(read_any))
        reads, pulses, up = (a[:iterations] for a in (outcome.reads, outcome.pulses, outcome.potentiating))
        in_row = per_row_count(rows.row_key, reads > 0, rows.n_rows)
        read_rows = in_row > 0
        most_reads = reads.max(axis=1, initial=0)[:, None]
        read_time = np.where(read_rows, self.costs.verify_read_time(most_reads, in_row), 0.0)
        slots = row_pulse_slots(rows, pulses, up)
        pulse_time = self.costs.pulse_time(slots)
        row_time = np.zeros(rows.n_rows)
        for read_t, pulse_t in zip(read_time, pulse_time):   # summed in the order the row spends them
            row_time += read_t
            row_time += pulse_t
        row_reads = (read_rows * most_reads).sum(axis=0).astype(float)
        row_slots = slots.sum(axis=0)
        row_inhibit = inhibited_lines(rows, pulses, up, self.costs.hw.tile.cols).sum(axis=0)
        yield self.env.all_of(self._tile_events(matrix, tiles, outcome, rows, row_time, row_reads, row_slots,
                                                           row_inhibit))

    def _tile_events(self, matrix, tiles, outcome, rows, row_time, row_reads, row_slots, row_inhibit):
        costs = self.costs
        g = matrix.devices.conductance_of(outcome.devices)
        device_reads = outcome.reads.sum(axis=0)
        array_energy = per_tile_device_sum(costs.array_read_energy(device_reads * g), rows)
        conversion_energy = (per_tile_device_sum(costs.adc_energy(device_reads), rows)
                             + per_tile_sum(costs.dac_energy(row_reads), rows))
        verify_count = per_tile_device_sum(device_reads, rows)
        pulse_count, pulse_energy = pulse_actions(costs, matrix, outcome.devices, outcome.device_pulses, rows)
        slots, latency = per_tile_sum(row_slots, rows), per_tile_sum(row_time, rows)
        inhibited = per_tile_sum(row_inhibit, rows)
        return [tiles[t].program(self.op, latency[t], {"verify_read": (verify_count[t], array_energy[t]),
                                                       "verify_conversion": (verify_count[t], conversion_energy[t]),
                                                       **write_actions(costs, pulse_count[t], pulse_energy[t], slots[t],
                                                                       inhibited[t])})
                for t in np.flatnonzero(verify_count)]

    def _detailed_events(self, matrix, tiles, outcome, rows) -> list:
        """Per tile, row after row: each iteration's verify read, then its pulse slots."""
        g = matrix.devices.conductance_of(outcome.devices)
        active = [bool((reads > 0).any()) for reads in outcome.reads]
        iterations = range(active.index(False) if False in active else len(active))
        return detailed_tile_events(tiles, self.op, rows,
                                    lambda mine: self._row_units(outcome, g, mine, iterations))

    def _row_units(self, outcome, g, mine, iterations) -> tuple[list, list]:
        costs = self.costs
        per_pulse = costs.pulse_energy(g[mine])
        seconds, actions = [], []
        for i in iterations:
            reads = outcome.reads[i]
            reading = mine & (reads > 0)
            if not reading.any():
                continue
            n = reads[reading]
            seconds.append(costs.verify_read_time(reads.max(), int(reading.sum())))
            conversion = costs.adc_energy(n).sum() + costs.dac_energy(reads.max())
            actions.append({"verify_read": (int(n.sum()), float(costs.array_read_energy(n * g[reading]).sum())),
                            "verify_conversion": (int(n.sum()), float(conversion))})
            s, a = pulse_slot_units(costs, outcome.pulses[i][mine], outcome.potentiating[i][mine], per_pulse)
            seconds += s
            actions += a
        return seconds, actions
