"""Column ADCs of one tile; `columns_per_adc` columns share each ADC through a mux.

Columns are muxed in contiguous groups (ADC a serves columns a·columns_per_adc …), so an input
step takes min(columns_per_adc, cols_used) conversion slots; in slot k every ADC that still has
a k-th active column converts it.
"""
from __future__ import annotations

import numpy as np

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.accounting import Action
from cosim.hardware.server import FifoServer


def conversions_per_slot(cols_used: int, columns_per_adc: int) -> np.ndarray:
    """Conversions in each of the min(columns_per_adc, cols_used) slots of one input step."""
    slot = np.arange(min(columns_per_adc, cols_used))
    return -(-(cols_used - slot) // columns_per_adc)


class ADCBank(FifoServer):
    kind = "adc_bank"
    ACTIONS = (Action("adc_conversion", "converters", unit_energy=lambda c: c.adc_energy(1),
                      doc="one column digitised once"),)

    def __init__(self, env, name: str, costs: ActionCosts, ledger, detailed: bool = False):
        super().__init__(env, name, self.kind, ledger, detailed)
        self.costs = costs

    def convert(self, op: str, steps: int, cols_used: int):
        """Digitise `cols_used` columns for each of `steps` input steps (detailed: one event per
        conversion slot)."""
        if self.detailed:
            per_slot = np.tile(conversions_per_slot(cols_used, self.costs.hw.adc.columns_per_adc), steps)
            units = [{"adc_conversion": (n, self.costs.adc_energy(n))} for n in per_slot.tolist()]
            return self.serve_units(op, np.full(per_slot.size, self.costs.adc_time(1, 1)), units)
        conversions = steps * cols_used
        return self.serve(op, to_ps(self.costs.adc_time(steps, cols_used)),
                          {"adc_conversion": (conversions, self.costs.adc_energy(conversions))})
