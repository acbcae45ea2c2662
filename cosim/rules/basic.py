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


SIEGMUND_RHO = 0.5826   # -ζ(1/2)/√(2π): overshoot of a Gaussian random walk, in σ

# Carries a per-weight accumulator, yet cost-only mode prices it from one sampled update, from
# the accumulator's steady state (prime_steady_state).
@register_rule("write_verify", plan_modes=("verify",), stateless=False, cost_only=True, default=True)
class WriteVerifyRule:
    """Write-verify backprop: the host accumulates ΔW per weight and programs a weight closed
    loop (target = its present state + the accumulated change) once the accumulated change
    exceeds the chip's verify tolerance; smaller changes would be accepted unwritten by the
    first verify. The accumulator then restarts from zero."""

    def __init__(self):
        self.accumulators: dict[str, np.ndarray] = {}

    def prime_steady_state(self, matrix: str, size: int, tolerance, sigma: float,
                           rng: np.random.Generator) -> None:
        """Start `matrix`'s accumulator in its steady state under i.i.d. N(0, σ²) updates
        (cost-only prices one update from here; an empty accumulator would write only changes
        already above the tolerance T). The accumulator is a random walk restarted at 0 after
        each write; its stationary density on (-T, T) is the walk's Green's function over the
        mean time between writes: ∝ (T + ρσ - |a|), the diffusion limit's triangle (T - |a|)
        with Siegmund's correction for the overshoot of a Gaussian walk, ρ = -ζ(½)/√(2π)
        ≈ 0.583 (Siegmund 1979, "Corrected diffusion approximations in certain random walk
        problems"). One update from there writes a share σ²/(T + ρσ)² of the weights, the
        inverse of the walk's mean time between writes (within 3 % of a simulated walk at
        T/σ = 2, 5, 10; the uncorrected triangle gives 0.55-0.85 of it)."""
        t = np.broadcast_to(np.asarray(tolerance, dtype=float), (size,))
        top = t + SIEGMUND_RHO * sigma
        # |a| by inverting the CDF of the density ∝ (top - b) on [0, T]
        mass = top * t - t * t / 2.0
        b = top - np.sqrt(np.maximum(top * top - 2.0 * rng.random(size) * mass, 0.0))
        self.accumulators[matrix] = np.where(rng.random(size) < 0.5, -b, b)

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> list[WritePlan]:
        acc = self.accumulators.setdefault(ctx.matrix, np.zeros(delta_w.size))
        acc += delta_w.ravel()
        tolerance = np.broadcast_to(ctx.verify_tolerance, acc.shape)
        cells = np.flatnonzero(np.abs(acc) > tolerance)
        delta = acc[cells].copy()
        acc[cells] = 0.0
        # The host adds ΔW into the accumulator and compares it with the tolerance: two ops per weight.
        return [WritePlan("verify", cells, delta, value_bits=ctx.weight_bits, host_ops=2.0 * acc.size)]
