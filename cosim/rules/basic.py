"""The reference rules: ideal digital SGD, open-loop writes, and write-verify."""
from __future__ import annotations

import numpy as np

from cosim.rules.plan import RuleContext, WritePlan


def _nonzero(delta_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = delta_w.ravel()
    cells = np.flatnonzero(flat)
    return cells, flat[cells]


class IdealRule:
    """FP digital SGD: W += ΔW exactly, no device."""

    name, analog, controller = "ideal", False, None

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> WritePlan:
        cells, delta = _nonzero(delta_w)
        return WritePlan("digital", cells, delta, value_bits=0)


class BpOpenLoopRule:
    """Backprop on memristors: every weight with a nonzero update gets one open-loop write."""

    name, analog, controller = "bp_open_loop", True, "open_loop"

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> WritePlan:
        cells, delta = _nonzero(delta_w)
        return WritePlan("open_loop", cells, delta, value_bits=ctx.weight_bits)


class WriteVerifyRule:
    """The same target writes as open loop, closed loop until within tolerance."""

    name, analog, controller = "write_verify", True, "verify"

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> WritePlan:
        cells, delta = _nonzero(delta_w)
        return WritePlan("verify", cells, delta, value_bits=ctx.weight_bits)
