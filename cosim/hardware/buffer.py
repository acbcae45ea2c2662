"""The on-chip SRAM activation/gradient buffer: one access at a time at its bandwidth."""
from __future__ import annotations

from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.accounting import Action
from cosim.hardware.server import FifoServer


class ActivationBuffer(FifoServer):
    kind = "buffer"
    ACTIONS = (Action("buffer_access", "chip", unit_energy=lambda c: c.buffer_energy(1),
                      doc="one bit written to or read from the on-chip buffer"),)

    def __init__(self, env, costs: ActionCosts, ledger, name: str = "buffer"):
        super().__init__(env, name, self.kind, ledger)
        self.costs = costs

    def access(self, op: str, bits: float):
        """Write or read `bits`; the event fires when the access ends."""
        return self.serve(op, to_ps(self.costs.buffer_time(bits)),
                          {"buffer_access": (bits, self.costs.buffer_energy(bits))})
