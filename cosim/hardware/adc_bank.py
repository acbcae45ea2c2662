"""Column ADCs of one tile; `columns_per_adc` columns share each ADC through a mux."""
from __future__ import annotations

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.server import FifoServer


class ADCBank(FifoServer):
    def __init__(self, env, name: str, costs: ActionCosts, ledger):
        super().__init__(env, name, "adc_bank", ledger)
        self.costs = costs

    def convert(self, op: str, steps: int, cols_used: int):
        """Digitise `cols_used` columns for each of `steps` input steps."""
        conversions = steps * cols_used
        return self.serve(op, to_ps(self.costs.adc_time(steps, cols_used)),
                          {"adc_conversion": (conversions, self.costs.adc_energy(conversions))})
