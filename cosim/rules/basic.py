"""The reference rules: ideal digital SGD, open-loop writes, and write-verify."""
from __future__ import annotations

import numpy as np

from cosim.registry import register_rule
from cosim.rules.plan import RuleContext, WritePlan


def _nonzero(delta_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = delta_w.ravel()
    cells = np.flatnonzero(flat)
    return cells, flat[cells]


@register_rule("ideal", plan_modes=("digital",), stateless=True, default=True)
class IdealRule:
    """FP digital SGD: W += ΔW exactly, no device."""

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> list[WritePlan]:
        cells, delta = _nonzero(delta_w)
        return [WritePlan("digital", cells, delta, value_bits=0)]


@register_rule("bp_open_loop", plan_modes=("open_loop",), stateless=True, default=True)
class BpOpenLoopRule:
    """Backprop on memristors: every weight with a nonzero update gets one open-loop write."""

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> list[WritePlan]:
        cells, delta = _nonzero(delta_w)
        return [WritePlan("open_loop", cells, delta, value_bits=ctx.weight_bits)]


# Carries a per-weight accumulator, yet cost-only mode prices it from one sampled update: from
# an empty accumulator that counts only the writes of changes already above the tolerance.
@register_rule("write_verify", plan_modes=("verify",), stateless=False, cost_only=True, default=True)
class WriteVerifyRule:
    """Write-verify backprop: the host accumulates ΔW per weight and programs a weight closed
    loop (target = its present state + the accumulated change) once the accumulated change
    exceeds the chip's verify tolerance; smaller changes would be accepted unwritten by the
    first verify. The accumulator then restarts from zero."""

    def __init__(self):
        self.accumulators: dict[str, np.ndarray] = {}

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> list[WritePlan]:
        acc = self.accumulators.setdefault(ctx.matrix, np.zeros(delta_w.size))
        acc += delta_w.ravel()
        tolerance = np.broadcast_to(ctx.verify_tolerance, acc.shape)
        cells = np.flatnonzero(np.abs(acc) > tolerance)
        delta = acc[cells].copy()
        acc[cells] = 0.0
        # The host adds ΔW into the accumulator and compares it with the tolerance: two ops per weight.
        return [WritePlan("verify", cells, delta, value_bits=ctx.weight_bits, host_ops=2.0 * acc.size)]
