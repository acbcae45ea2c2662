"""Applies open-loop write plans: one pulse train per device, no read-back.

Rows of a tile are programmed one after another, all selected cells of a row in parallel;
SET and RESET pulses need different voltages, so a row takes (max SET + max RESET pulses) ·
pulse width. Tiles program in parallel. In detailed fidelity every pulse slot of every row is
its own event (the cells of the row that still need a pulse get one).
"""
from __future__ import annotations

import numpy as np

from cosim.costs.actions import ActionCosts
from cosim.devices.programming import program_open_loop
from cosim.hardware.cell_map import map_rows, per_row_count, per_row_max, per_tile_device_sum, per_tile_sum
from cosim.jit import jit


def row_pulse_slots(rows, pulses: np.ndarray, potentiating: np.ndarray) -> np.ndarray:
    """Pulse slots per physical row: its longest SET train, then its longest RESET train.
    Per-device arrays of shape (iterations, devices) give (iterations, rows) (write-verify)."""
    up = np.where(potentiating, pulses, 0.0)
    return per_row_max(rows.row_key, up, rows.n_rows) + per_row_max(rows.row_key, pulses - up, rows.n_rows)


def inhibited_lines(rows, pulses: np.ndarray, potentiating: np.ndarray, tile_cols: int) -> np.ndarray:
    """Per physical row with a SET train: the tile's device column lines (2·tile_cols) not
    pulsed in that train, which an inhibiting 1T1R write holds at the write voltage
    (MLP_NeuroSim V3.0 SubArray::CalculatePower, 1T1R analog: 'Unselected SLs', once per row).
    Shaped as row_pulse_slots."""
    selected = per_row_count(rows.row_key, potentiating & (pulses > 0), rows.n_rows)
    return np.where(selected > 0, 2 * tile_cols - selected, 0).astype(float)


def row_pulse_time(costs: ActionCosts, rows, pulses: np.ndarray, potentiating: np.ndarray) -> np.ndarray:
    """Seconds per physical row (one pulse width per slot)."""
    return costs.pulse_time(row_pulse_slots(rows, pulses, potentiating))


def write_actions(costs: ActionCosts, pulses, cell_energy, row_slots, inhibited=0.0) -> dict:
    """The actions of `pulses` pulses whose cells took `cell_energy` J, applied in `row_slots`
    row pulse slots with `inhibited` unselected column lines held at the write voltage: the
    cells, the lines they charge, and the write supply's loss on everything at V_w."""
    actions = {"program_pulse": (pulses, cell_energy)}
    inhibit = costs.inhibit_energy(inhibited)
    line = costs.line_energy(row_slots, pulses) + inhibit
    if line:
        actions["line_charge"] = (row_slots, line)
    loss = costs.supply_loss(cell_energy + costs.column_line_energy(pulses) + inhibit)
    if loss:
        actions["write_supply_loss"] = (pulses, loss)
    return actions


def pulse_energies(costs: ActionCosts, matrix, devices: np.ndarray, pulses: np.ndarray) -> np.ndarray:
    """Energy (J) of `pulses` pulses on each of `devices` at its conductance."""
    return costs.pulse_energy(pulses * matrix.devices.conductance_of(devices))


def pulse_actions(costs: ActionCosts, matrix, devices: np.ndarray, pulses: np.ndarray, rows):
    """Per tile: (pulses, their energy in J at each device's conductance)."""
    return (per_tile_device_sum(pulses, rows),
            per_tile_device_sum(pulse_energies(costs, matrix, devices, pulses), rows))


def tile_write_totals(tile_map, devices: np.ndarray, pulses: np.ndarray, potentiating: np.ndarray,
                      energy: np.ndarray, tile_cols: int) -> tuple[np.ndarray, ...]:
    """Per tile of `tile_map` (row-major) of one open-loop write of `devices` (flat indices) with
    `pulses` of polarity `potentiating` taking `energy` J each device: (pulses, their energy J,
    row pulse slots, inhibited column lines), the sums of pulse_actions, row_pulse_slots and
    inhibited_lines; compiled in one pass over the devices when numba is available."""
    if _tile_write_totals_nb is None:
        rows = map_rows(devices, tile_map)
        return (per_tile_device_sum(pulses, rows), per_tile_device_sum(energy, rows),
                per_tile_sum(row_pulse_slots(rows, pulses, potentiating), rows),
                per_tile_sum(inhibited_lines(rows, pulses, potentiating, tile_cols), rows))
    return _tile_write_totals_nb(devices, pulses, potentiating, energy, tile_map.in_features, tile_map.out_features,
                                 tile_map.weight_cols_per_tile, tile_map.row_tiles, tile_map.tiles, tile_cols)


def _tile_write_totals_py(devices, pulses, potentiating, energy, in_features, out_features, weight_cols,
                          row_tile, n_tiles, tile_cols):
    """tile_write_totals device by device, then row by row: map_rows' keys, per_row_max's and
    per_row_count's rows, bincount's sums in the same order (the same values bit for bit)."""
    n_rows = row_tile.size
    up, down, selected = np.zeros(n_rows), np.zeros(n_rows), np.zeros(n_rows, dtype=np.int64)
    tile_pulses, tile_energy = np.zeros(n_tiles), np.zeros(n_tiles)
    for i in range(devices.size):
        within = devices[i] % (in_features * out_features)
        key = (within % out_features) // weight_cols * in_features + within // out_features
        if potentiating[i]:
            up[key] = max(up[key], pulses[i])
            selected[key] += pulses[i] > 0
        else:
            down[key] = max(down[key], pulses[i])
        tile_pulses[row_tile[key]] += pulses[i]
        tile_energy[row_tile[key]] += energy[i]
    slots, inhibited = np.zeros(n_tiles), np.zeros(n_tiles)
    for r in range(n_rows):
        slots[row_tile[r]] += up[r] + down[r]
        inhibited[row_tile[r]] += 2 * tile_cols - selected[r] if selected[r] > 0 else 0
    return tile_pulses, tile_energy, slots, inhibited


_tile_write_totals_nb = jit(_tile_write_totals_py)


def pulse_slot_units(costs: ActionCosts, pulses: np.ndarray, potentiating: np.ndarray,
                     pulse_energy: np.ndarray) -> tuple[list[float], list[dict]]:
    """Detailed fidelity, one row's trains: a unit per SET slot, then per RESET slot; slot k
    pulses every device of that polarity with more than k pulses. `pulse_energy`: J of one pulse
    on each device. Returns (unit seconds, unit actions)."""
    seconds, actions = [], []
    for polarity in (True, False):
        mine = potentiating == polarity
        count, energy = pulses[mine], pulse_energy[mine]
        for k in range(int(count.max(initial=0))):
            on = count > k
            # The inhibit lines charge once, with the row's first SET slot.
            inhibited = 2 * costs.hw.tile.cols - int((count > 0).sum()) if polarity and k == 0 else 0
            seconds.append(costs.pulse_time(1))
            actions.append(write_actions(costs, int(on.sum()), float(energy[on].sum()), 1, inhibited))
    return seconds, actions


def detailed_tile_events(tiles: list, op: str, rows, row_units) -> list:
    """Detailed fidelity: per tile, its physical rows one after another; `row_units(mask)` gives
    the (unit seconds, unit actions) of the row whose devices are `mask`."""
    events = []
    for t in range(rows.n_tiles):
        seconds, actions = [], []
        for row in np.flatnonzero(rows.row_tile == t):
            s, a = row_units(rows.row_key == row)
            seconds += s
            actions += a
        if seconds:
            events.append(tiles[t].program_units(op, np.array(seconds), actions))
    return events


class OpenLoopController:
    kind = "open_loop_controller"
    op = "open_loop_write"
    plan_mode = "open_loop"

    def __init__(self, env, costs: ActionCosts, detailed: bool = False):
        self.env, self.costs, self.detailed = env, costs, detailed

    def program(self, matrix, tiles: list, plan):
        """SimPy process: write `plan` into `matrix`, whose tiles are `tiles` (row-major)."""
        outcome = program_open_loop(matrix.devices, plan.cells, matrix.to_fraction(plan.cells, plan.delta),
                                    self.env.now * 1e-12)
        if outcome.devices.size == 0:
            return outcome
        if self.detailed:
            events = self._detailed_events(matrix, tiles, outcome, map_rows(outcome.devices, matrix.tile_map))
        else:
            pulses, energy, slots, inhibited = tile_write_totals(
                matrix.tile_map, outcome.devices, outcome.pulses, outcome.potentiating,
                pulse_energies(self.costs, matrix, outcome.devices, outcome.pulses), self.costs.hw.tile.cols)
            latency = self.costs.pulse_time(slots)
            events = [tiles[t].program(self.op, latency[t],
                                       write_actions(self.costs, pulses[t], energy[t], slots[t], inhibited[t]))
                      for t in np.flatnonzero(pulses)]
        yield self.env.all_of(events)
        return outcome

    def _detailed_events(self, matrix, tiles, outcome, rows) -> list:
        per_pulse = self.costs.pulse_energy(matrix.devices.conductance_of(outcome.devices))
        return detailed_tile_events(tiles, self.op, rows, lambda mine: pulse_slot_units(
            self.costs, outcome.pulses[mine], outcome.potentiating[mine], per_pulse[mine]))
