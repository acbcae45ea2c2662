"""One crossbar tile: its array plus its DAC and ADC banks. An MVM runs DAC → array → ADC."""
from __future__ import annotations

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.adc_bank import ADCBank
from cosim.hardware.dac_bank import DACBank
from cosim.hardware.server import FifoServer, serve_together


class Tile(FifoServer):
    def __init__(self, env, name: str, costs: ActionCosts, ledger):
        super().__init__(env, name, "tile", ledger)
        self.costs = costs
        self.dac = DACBank(env, f"{name}.dac", costs, ledger)
        self.adc = ADCBank(env, f"{name}.adc", costs, ledger)

    def mvm(self, op: str, steps: int, rows_used: int, cols_used: int, conductance_load: float):
        """SimPy process: `steps` input applications through this tile, stages in order."""
        yield self.dac.convert(op, steps, rows_used)
        yield self.serve(op, to_ps(self.costs.array_read_time(steps)),
                         {"array_read": (steps * rows_used * cols_used,
                                         self.costs.array_read_energy(conductance_load))})
        yield self.adc.convert(op, steps, cols_used)

    def program(self, op: str, latency_s: float, actions: dict[str, tuple[float, float]]):
        """Programming holds the array and both converter banks (verify reads use them), so no
        cell is read while it is being programmed."""
        return serve_together([self, self.dac, self.adc], op, to_ps(latency_s), actions)
