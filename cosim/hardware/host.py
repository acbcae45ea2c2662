"""The host processor: digital work (activations, losses, weight gradients, rule decisions)."""
from __future__ import annotations

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.accounting import Action
from cosim.hardware.server import FifoServer


class DigitalUnit(FifoServer):
    """A digital processor priced per multiply-accumulate, elementwise op and random draw.

    Subclasses name their three actions (MAC, OP, DRAW, declared in ACTIONS in that order) and the
    ActionCosts methods that price them (ENERGY(macs, ops) in J, TIME(macs, ops) in s)."""
    ENERGY = "host_energy"
    TIME = "host_time"

    def __init__(self, env, costs: ActionCosts, ledger, name: str):
        super().__init__(env, name, self.kind, ledger)
        self.costs = costs
        # Looked up once: compute() runs for every piece of digital work of every step.
        self._energy, self._time = getattr(costs, self.ENERGY), getattr(costs, self.TIME)
        self._names = tuple(a.name for a in self.ACTIONS)

    def compute(self, op: str, macs: float, ops: float, draws: float = 0.0):
        """`macs` multiply-accumulates, `ops` elementwise ops and `draws` random draws."""
        mac, elementwise, draw = self._names
        actions = {}
        if macs:
            actions[mac] = (macs, self._energy(macs, 0))
        if ops:
            actions[elementwise] = (ops, self._energy(0, ops))
        if draws:
            actions[draw] = (draws, self.costs.draw_energy(draws))
        return self.serve(op, to_ps(self._time(macs + draws, ops)), actions)


class Host(DigitalUnit):
    kind = "host"
    ACTIONS = (Action("host_mac", "host", unit_energy=lambda c: c.host_energy(1, 0), doc="one multiply-accumulate"),
               Action("host_op", "host", unit_energy=lambda c: c.host_energy(0, 1), doc="one elementwise op"),
               Action("eapu_draw", "host", "update.plan", unit_energy=lambda c: c.draw_energy(1),
                      doc="one random draw and compare of a probabilistic update"))

    def __init__(self, env, costs: ActionCosts, ledger, name: str = "host"):
        super().__init__(env, costs, ledger, name)
