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
    """Write-verify backprop: the host accumulates ΔW per weight and programs a weight closed
    loop (target = its present state + the accumulated change) once the accumulated change
    exceeds the chip's verify tolerance; smaller changes would be accepted unwritten by the
    first verify. The accumulator then restarts from zero."""

    name, analog, controller = "write_verify", True, "verify"

    def __init__(self):
        self.accumulators: dict[str, np.ndarray] = {}

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> WritePlan:
        acc = self.accumulators.setdefault(ctx.matrix, np.zeros(delta_w.size))
        acc += delta_w.ravel()
        tolerance = np.broadcast_to(ctx.verify_tolerance, acc.shape)
        cells = np.flatnonzero(np.abs(acc) > tolerance)
        delta = acc[cells].copy()
        acc[cells] = 0.0
        # The host adds ΔW into the accumulator and compares it with the tolerance: two ops per weight.
        return WritePlan("verify", cells, delta, value_bits=ctx.weight_bits, host_ops=2.0 * acc.size)
