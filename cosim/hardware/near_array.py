"""The near-array digital unit: the layers' digital work and the update rule's plans on the chip
(activations, loss, weight gradients x^T·δ from the buffered x and δ, random draws)."""
from __future__ import annotations

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.accounting import Action
from cosim.hardware.server import FifoServer


class NearArrayUnit(FifoServer):
    kind = "near_array"
    ACTIONS = (Action("chip_mac", "chip", unit_energy=lambda c: c.near_array_energy(1, 0),
                      doc="one multiply-accumulate on the near-array unit"),
               Action("chip_op", "chip", unit_energy=lambda c: c.near_array_energy(0, 1),
                      doc="one elementwise op on the near-array unit"),
               Action("chip_draw", "chip", "update.plan", unit_energy=lambda c: c.draw_energy(1),
                      doc="one random draw and compare of a probabilistic update, on chip"))

    def __init__(self, env, costs: ActionCosts, ledger, name: str = "near_array"):
        super().__init__(env, name, self.kind, ledger)
        self.costs = costs

    def compute(self, op: str, macs: float, ops: float, draws: float = 0.0):
        """`macs` multiply-accumulates, `ops` elementwise ops and `draws` random draws."""
        actions = {}
        if macs:
            actions["chip_mac"] = (macs, self.costs.near_array_energy(macs, 0))
        if ops:
            actions["chip_op"] = (ops, self.costs.near_array_energy(0, ops))
        if draws:
            actions["chip_draw"] = (draws, self.costs.draw_energy(draws))
        return self.serve(op, to_ps(self.costs.near_array_time(macs + draws, ops)), actions)
