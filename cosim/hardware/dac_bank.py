"""Row drivers of one tile: every row converts in parallel, one input step at a time."""
from __future__ import annotations

import numpy as np

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.accounting import Action
from cosim.hardware.server import FifoServer


class DACBank(FifoServer):
    kind = "dac_bank"
    ACTIONS = (Action("dac_conversion", "converters", unit_energy=lambda c: c.dac_energy(1),
                      doc="one row driven for one input step"),)

    def __init__(self, env, name: str, costs: ActionCosts, ledger, detailed: bool = False):
        super().__init__(env, name, self.kind, ledger, detailed)
        self.costs = costs

    def convert(self, op: str, steps: int, rows_used: int):
        """Drive `rows_used` rows for `steps` sequential input steps (detailed: one event a step)."""
        if self.detailed:
            unit = {"dac_conversion": (rows_used, self.costs.dac_energy(rows_used))}
            return self.serve_units(op, np.full(steps, self.costs.dac_time(1)), [unit] * steps)
        conversions = steps * rows_used
        return self.serve(op, to_ps(self.costs.dac_time(steps)),
                          {"dac_conversion": (conversions, self.costs.dac_energy(conversions))})
