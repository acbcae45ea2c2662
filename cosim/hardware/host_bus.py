"""The link between host and chip: one transfer at a time, arbitrated by a simpy.Resource
(several tiles' results and write plans contend for it)."""
from __future__ import annotations

import simpy

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.accounting import Action


class HostBus:
    kind = "bus"
    ACTIONS = (Action("bus_transfer", "link", unit_energy=lambda c: c.bus_energy(1), doc="one bit moved"),)

    def __init__(self, env: simpy.Environment, costs: ActionCosts, ledger, name: str = "bus"):
        self.env, self.costs, self.ledger, self.name = env, costs, ledger, name
        self.link = simpy.Resource(env, capacity=1)

    def transfer(self, op: str, bits: float):
        """SimPy process: move `bits` over the link once it is free."""
        issue = self.env.now
        with self.link.request() as grant:
            yield grant
            start = self.env.now
            latency = to_ps(self.costs.bus_time(bits))
            self.ledger.record(self.name, self.kind, op, issue, start, start + latency,
                               {"bus_transfer": (bits, self.costs.bus_energy(bits))})
            yield self.env.timeout(latency)
