"""Row drivers of one tile: every row converts in parallel, one input step at a time."""
from __future__ import annotations

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.server import FifoServer


class DACBank(FifoServer):
    def __init__(self, env, name: str, costs: ActionCosts, ledger):
        super().__init__(env, name, "dac_bank", ledger)
        self.costs = costs

    def convert(self, op: str, steps: int, rows_used: int):
        """Drive `rows_used` rows for `steps` sequential input steps."""
        conversions = steps * rows_used
        return self.serve(op, to_ps(self.costs.dac_time(steps)),
                          {"dac_conversion": (conversions, self.costs.dac_energy(conversions))})
