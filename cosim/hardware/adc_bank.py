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
                      doc="one column digitised once"),
               Action("slice_accumulation", "converters", unit_energy=lambda c: c.accumulation_energy(1),
                      doc="one input slice of one column added onto its accumulation capacitor "
                          "(analog slice accumulation)"))

    def __init__(self, env, name: str, costs: ActionCosts, ledger, detailed: bool = False):
        super().__init__(env, name, self.kind, ledger, detailed)
        self.costs = costs

    def convert(self, op: str, steps: int, cols_used: int, slices: int = 1):
        """Digitise `cols_used` columns for each of `steps` input steps, `slices` of which make one
        input vector's phase (detailed: one event per conversion slot). With analog slice
        accumulation the columns add a phase's slices on their capacitors and convert once."""
        per = slices if self.costs.hw.adc.slice_accumulation == "analog" and slices > 1 else 1
        steps //= per
        if self.detailed:
            per_slot = np.tile(conversions_per_slot(cols_used, self.costs.hw.adc.columns_per_adc), steps)
            units = [self._actions(n, per) for n in per_slot.tolist()]
            return self.serve_units(op, np.full(per_slot.size, self.costs.adc_time(1, 1)), units)
        return self.serve(op, to_ps(self.costs.adc_time(steps, cols_used)), self._actions(steps * cols_used, per))

    def _actions(self, conversions, per: int) -> dict:
        """`conversions` conversions, each of `per` accumulated slices (per 1: none accumulated)."""
        actions = {"adc_conversion": (conversions, self.costs.adc_energy(conversions))}
        if per > 1:
            actions["slice_accumulation"] = (conversions * per, self.costs.accumulation_energy(conversions * per))
        return actions
