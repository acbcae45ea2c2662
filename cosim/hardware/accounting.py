"""What every hardware action is, for accounting: the action declarations components make.

Each component module declares the actions it books (`ACTIONS`, a tuple of `Action`): the name
the ledger uses, the accounting ring it belongs to, the training phase it serves (fixed, or the
phase of the operation it is done for) and, where one unit always costs the same, that unit's
energy from the spec. Everything the report says per boundary or per phase is derived from these
declarations (see `cosim.hardware.registry`), so a new action cannot count in the total and in
no boundary.

Boundaries nest: array ⊂ +converters and peripherals ⊂ chip ⊂ +off-chip link and memory ⊂
+host. Each action sits in exactly one ring (the part of a boundary outside the one inside it),
so the rings partition the total and each boundary is the sum of the rings up to it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# Rings, innermost first. A boundary is the union of the rings up to and including its own.
RINGS = ("array", "converters", "chip", "link", "host")
RING_NAMES = {"array": "array", "converters": "converters & peripherals", "chip": "rest of chip",
              "link": "off-chip link & memory", "host": "host"}

# Training phases of a step; the weight update is split into its parts.
PHASES = ("forward", "backprop", "weight_gradient", "update.plan", "update.traffic",
          "update.programming", "update.verify")
FROM_OP = None    # an action whose phase is that of the operation it is done for

# Operation names (the ledger's `op`) -> phase, for actions declared FROM_OP. Checked in order:
# an exact name, then the part before the first "_" (forward_in, backward_matmul, ...).
OP_PHASES = {
    "forward": "forward", "inference": "forward",
    "loss": "backprop", "backward": "backprop",
    "weight_gradient": "weight_gradient",
    "update_rule": "update.plan", "host_param_update": "update.plan",
    "write_plan": "update.traffic",
}


@dataclass(frozen=True)
class Action:
    """One kind of action a component books in the ledger.

    ring: its accounting ring (one of RINGS). phase: a fixed phase (one of PHASES) or FROM_OP.
    unit_energy: J of one unit from the spec (costs -> J) where every unit costs the same; None
    where the energy depends on the state (e.g. a cell's conductance). doc: what one unit is.
    """

    name: str
    ring: str
    phase: str | None = FROM_OP
    unit_energy: Callable | None = None
    doc: str = ""

    def __post_init__(self):
        if self.ring not in RINGS:
            raise ValueError(f"action {self.name}: ring {self.ring!r} not one of {RINGS}")
        if self.phase is not FROM_OP and self.phase not in PHASES:
            raise ValueError(f"action {self.name}: phase {self.phase!r} not one of {PHASES}")


def op_phase(op: str) -> str:
    """The training phase of operation `op` (a ledger op name); KeyError when it has none."""
    if op in OP_PHASES:
        return OP_PHASES[op]
    head = op.split("_", 1)[0]
    if head in OP_PHASES:
        return OP_PHASES[head]
    raise KeyError(f"operation {op!r} has no phase: add it to cosim.hardware.accounting.OP_PHASES")
