"""The host processor: digital work (activations, losses, weight gradients, rule decisions)."""
from __future__ import annotations

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.accounting import Action
from cosim.hardware.server import FifoServer


class Host(FifoServer):
    kind = "host"
    ACTIONS = (Action("host_mac", "host", unit_energy=lambda c: c.host_energy(1, 0), doc="one multiply-accumulate"),
               Action("host_op", "host", unit_energy=lambda c: c.host_energy(0, 1), doc="one elementwise op"),
               Action("eapu_draw", "host", "update.plan", unit_energy=lambda c: c.draw_energy(1),
                      doc="one random draw and compare of a probabilistic update"))

    def __init__(self, env, costs: ActionCosts, ledger, name: str = "host"):
        super().__init__(env, name, self.kind, ledger)
        self.costs = costs

    def compute(self, op: str, macs: float, ops: float, draws: float = 0.0):
        """`macs` multiply-accumulates, `ops` elementwise ops and `draws` random draws."""
        actions = {}
        if macs:
            actions["host_mac"] = (macs, self.costs.host_energy(macs, 0))
        if ops:
            actions["host_op"] = (ops, self.costs.host_energy(0, ops))
        if draws:
            actions["eapu_draw"] = (draws, self.costs.draw_energy(draws))
        return self.serve(op, to_ps(self.costs.host_time(macs + draws, ops)), actions)
