"""Write plans: what an update rule asks the hardware to write. Rules never touch SimPy."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Mode = Literal["digital", "open_loop", "verify"]


@dataclass
class WritePlan:
    """Cells to write and the weight change wanted for each.

    mode: "digital" (apply exactly in host memory), "open_loop" (one pulse train per cell),
    "verify" (closed-loop write-verify). cells: flat indices into the (in, out) matrix.
    delta: wanted change per cell, in weight units. value_bits: bits per cell sent over the bus
    besides its address. host_draws: random numbers the host drew to make the plan.
    """

    mode: Mode
    cells: np.ndarray
    delta: np.ndarray
    value_bits: int
    host_draws: int = 0


@dataclass(frozen=True)
class RuleContext:
    """What a rule may know about the hardware: write noise σ of one pulse, in weight units."""

    sigma_write: float
    weight_bits: int
