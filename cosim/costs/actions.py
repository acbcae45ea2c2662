"""Energy (J) and latency (s) of each hardware action, from the chip spec (Accelergy-style).

No SimPy here: the hardware layer decides when an action happens and asks this module how much
it costs. Every function is vectorisable over numpy arrays of counts.
"""
from __future__ import annotations

import numpy as np

from cosim.specs.hardware import HardwareSpec


class ActionCosts:
    def __init__(self, hw: HardwareSpec):
        self.hw = hw

    # ----- MVM on a tile: `steps` = vectors · phases · slices sequential input applications -----
    def dac_energy(self, conversions) -> float:
        """Row-driver conversions × energy per conversion, J."""
        return conversions * self.hw.dac.energy_per_conversion

    def dac_time(self, steps) -> float:
        """All rows convert in parallel: one conversion time per input step, s."""
        return steps * self.hw.dac.conversion_time

    def array_read_energy(self, conductance_load) -> float:
        """V_read² · t_read · Σ a²·G over driven cells (see MvmOp.conductance_load), J."""
        return self.hw.device.read_voltage ** 2 * self.hw.tile.read_time * conductance_load

    def array_read_time(self, steps) -> float:
        return steps * self.hw.tile.read_time

    def adc_energy(self, conversions) -> float:
        return conversions * self.hw.adc.energy

    def accumulation_energy(self, slice_adds) -> float:
        """Column slice charges added onto accumulation capacitors (analog slice accumulation), J."""
        return slice_adds * self.hw.adc.accumulation_energy

    def adc_time(self, steps, cols_used) -> float:
        """Each ADC converts its (at most columns_per_adc) active columns one after another, s."""
        return steps * np.minimum(self.hw.adc.columns_per_adc, cols_used) * self.hw.adc.conversion_time

    # ----- programming ------------------------------------------------------------------------
    def pulse_energy(self, pulses_times_conductance) -> float:
        """V_write² · t_pulse · Σ pulses·G (the cell's conductance, S), J."""
        dev = self.hw.device
        return dev.write_voltage ** 2 * dev.pulse_width * pulses_times_conductance

    def line_energy(self, row_slots, pulses) -> float:
        """C·V² of the lines a write drives, J: each pulse slot of a row charges its word line
        (2·tile.cols cells long) to word_line_voltage, and each pulse charges its column line
        (tile.rows cells long) to the write voltage (NeuroSim V2.1 GetWriteUpdateEstimation)."""
        wp, tile = self.hw.write_path, self.hw.tile
        c = wp.line_capacitance_per_cell
        return (row_slots * 2 * tile.cols * c * wp.word_line_voltage ** 2
                + pulses * tile.rows * c * self.hw.device.write_voltage ** 2)

    def column_line_energy(self, pulses) -> float:
        """The part of line_energy at the write voltage (column lines), J."""
        return pulses * self.hw.tile.rows * self.hw.write_path.line_capacitance_per_cell * self.hw.device.write_voltage ** 2

    def inhibit_energy(self, lines) -> float:
        """C·V_w² of `lines` unselected column lines (tile.rows cells long) held at the write
        voltage during a row's SET train, J (0 unless write_path.inhibit_unselected)."""
        if not self.hw.write_path.inhibit_unselected:
            return 0.0 * lines
        return self.column_line_energy(lines)

    def supply_loss(self, energy_at_write_voltage) -> float:
        """Energy the write-voltage supply loses delivering `energy_at_write_voltage`, J."""
        return energy_at_write_voltage * (1.0 / self.hw.write_path.supply_efficiency - 1.0)

    def pulse_time(self, pulses) -> float:
        return pulses * self.hw.device.pulse_width

    def verify_read_time(self, reads, devices_in_row) -> float:
        """One verify read of a row: drive, settle, convert its devices on the shared ADCs, s."""
        return reads * (self.hw.dac.conversion_time + self.hw.tile.read_time
                        + self.adc_time(1, devices_in_row))

    # ----- bus and host -------------------------------------------------------------------------
    def bus_energy(self, bits) -> float:
        return bits * self.hw.bus.energy_per_bit

    def bus_time(self, bits) -> float:
        return self.hw.bus.latency + bits / self.hw.bus.bandwidth

    def host_energy(self, macs, ops) -> float:
        return macs * self.hw.host.mac_energy + ops * self.hw.host.op_energy

    def host_time(self, macs, ops) -> float:
        """The host retires one MAC or one elementwise op per cycle at `mac_rate`, s."""
        return (macs + ops) / self.hw.host.mac_rate

    # ----- on-chip buffer and near-array digital unit (optional components) -------------------
    def buffer_energy(self, bits) -> float:
        return bits * self.hw.buffer.energy_per_bit

    def buffer_time(self, bits) -> float:
        return bits / self.hw.buffer.bandwidth

    def near_array_energy(self, macs, ops) -> float:
        return macs * self.hw.near_array.mac_energy + ops * self.hw.near_array.op_energy

    def near_array_time(self, macs, ops) -> float:
        """One MAC or elementwise op per cycle at `mac_rate`, s."""
        return (macs + ops) / self.hw.near_array.mac_rate

    def draw_energy(self, draws) -> float:
        return draws * self.hw.eapu.draw_energy


def to_ps(seconds: float) -> int:
    """Seconds to integer picoseconds (simulated time unit), rounded to nearest (half to even).
    A numpy scalar is taken as a Python float first: the same product and rounding, ~7x cheaper
    than numpy's __round__ (a transaction's latency is often a numpy scalar)."""
    return int(round(float(seconds) * 1e12))
