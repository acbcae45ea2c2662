"""The near-array digital unit: the layers' digital work and the update rule's plans on the chip
(activations, loss, weight gradients x^T·δ from the buffered x and δ, random draws)."""
from __future__ import annotations

from cosim.costs.actions import ActionCosts
from cosim.hardware.accounting import Action
from cosim.hardware.host import DigitalUnit


class NearArrayUnit(DigitalUnit):
    kind = "near_array"
    ENERGY = "near_array_energy"
    TIME = "near_array_time"
    ACTIONS = (Action("chip_mac", "chip", unit_energy=lambda c: c.near_array_energy(1, 0),
                      doc="one multiply-accumulate on the near-array unit"),
               Action("chip_op", "chip", unit_energy=lambda c: c.near_array_energy(0, 1),
                      doc="one elementwise op on the near-array unit"),
               Action("chip_draw", "chip", "update.plan", unit_energy=lambda c: c.draw_energy(1),
                      doc="one random draw and compare of a probabilistic update, on chip"))

    def __init__(self, env, costs: ActionCosts, ledger, name: str = "near_array"):
        super().__init__(env, costs, ledger, name)
