"""One crossbar tile: its array plus its DAC and ADC banks. An MVM runs DAC → array → ADC."""
from __future__ import annotations

import numpy as np

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.accounting import Action
from cosim.hardware.adc_bank import ADCBank
from cosim.hardware.dac_bank import DACBank
from cosim.hardware.server import FifoServer, serve_together, serve_units_together


class Tile(FifoServer):
    kind = "tile"
    ACTIONS = (Action("array_read", "array", doc="one cell read for one input step (V²·G·t)"),
               Action("program_pulse", "array", "update.programming", doc="one write pulse on one cell"),
               Action("line_charge", "array", "update.programming",
                      doc="one row pulse slot: C·V² of its word line and of the pulsed column lines "
                      "(and, inhibiting, of a SET train's unselected column lines)"),
               Action("verify_read", "array", "update.verify", doc="one cell read back during write-verify"),
               Action("write_supply_loss", "converters", "update.programming",
                      doc="one pulse's share of the write supply's loss (charge pump efficiency)"),
               Action("verify_conversion", "converters", "update.verify",
                      doc="DAC and ADC work of one verify read"))

    def __init__(self, env, name: str, costs: ActionCosts, ledger, detailed: bool = False):
        super().__init__(env, name, self.kind, ledger, detailed)
        self.costs = costs
        self.dac = DACBank(env, f"{name}.dac", costs, ledger, detailed)
        self.adc = ADCBank(env, f"{name}.adc", costs, ledger, detailed)

    def mvm(self, op: str, steps: int, rows_used: int, cols_used: int, conductance_load: float, slices: int = 1):
        """SimPy process: `steps` input applications (`slices` per vector phase) through this
        tile, stages in order."""
        yield self.dac.convert(op, steps, rows_used)
        yield self._read(op, steps, rows_used * cols_used, self.costs.array_read_energy(conductance_load))
        yield self.adc.convert(op, steps, cols_used, slices)

    def _read(self, op: str, steps: int, cells: int, energy: float):
        """The array settles once per input step. The MvmOp carries one conductance load for the
        whole call, so detailed mode books an equal share of the read energy on each step."""
        if self.detailed:
            unit = {"array_read": (cells, energy / steps)}
            return self.serve_units(op, np.full(steps, self.costs.array_read_time(1)), [unit] * steps)
        return self.serve(op, to_ps(self.costs.array_read_time(steps)),
                          {"array_read": (steps * cells, energy)})

    def program(self, op: str, latency_s: float, actions: dict[str, tuple[float, float]]):
        """Programming holds the array and both converter banks (verify reads use them), so no
        cell is read while it is being programmed."""
        return serve_together([self, self.dac, self.adc], op, to_ps(latency_s), actions)

    def program_units(self, op: str, unit_seconds: np.ndarray, unit_actions: list):
        """Detailed programming: the same hold, one event per pulse or verify read."""
        return serve_units_together([self, self.dac, self.adc], op, unit_seconds, unit_actions)
