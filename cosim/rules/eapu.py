"""EaPU, error-aware probabilistic update (Nature Communications 2025, doi 10.1038/s41467-025-66240-7).

Write a weight with probability p = min(1, |ΔW| / step) and then by one step sign(ΔW)·step, so
E[change] = ΔW whenever |ΔW| <= step. The wanted threshold is Δw_th = k · σ_write (our choice;
the paper does not publish its formula): fixed uses the device's nominal σ of one pulse,
adaptive each cell's current σ_write (which grows with time since its last write on relaxing
devices).

On a pulsed device the step is what the device can make: the whole pulse count n nearest
Δw_th / pulse_step (at least one), i.e. step = n · pulse_step nominally. With
`compensate_asymmetry` (default) p is drawn against the step the device is expected to make in
that direction at that cell's present state (nonlinear response, up/down asymmetry), so
E[change] = ΔW on the device and not only in the plan; the controller still sends n pulses.
A continuous device moves by Δw_th itself. The effective k of the realised write is
step / (σ·√n): one write of n pulses lands with σ·√n.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from cosim.jit import jit
from cosim.registry import register_rule
from cosim.rules.plan import RuleContext, WritePlan
from cosim.specs.base import FrozenSpec


class EapuParams(FrozenSpec):
    """Workload `rules.eapu` (shared by eapu and eapu_adaptive)."""

    k: float = Field(1.0, gt=0.0, le=1e3, description="Threshold Δw_th = k · σ_write (dimensionless).")
    threshold: Literal["fixed", "adaptive"] = Field(
        "fixed", description="fixed: σ_write of the spec; adaptive: each cell's current σ_write "
        "(grows with time since its last write). Method `eapu_adaptive` is always adaptive.")
    compensate_asymmetry: bool = Field(
        True, description="Draw the write probability against the step the device is expected to make "
        "in that direction at that state (so E[change] = ΔW on the device), not the nominal step.")


@register_rule("eapu", plan_modes=("eapu",), stateless=True, params=EapuParams, default=True)
def eapu(params: EapuParams) -> EapuRule:
    return EapuRule(k=params.k, adaptive=params.threshold == "adaptive",
                    compensate_asymmetry=params.compensate_asymmetry)


@register_rule("eapu_adaptive", plan_modes=("eapu",), stateless=True, params=EapuParams, section="eapu")
def eapu_adaptive(params: EapuParams) -> EapuRule:
    return EapuRule(k=params.k, adaptive=True, compensate_asymmetry=params.compensate_asymmetry)


class EapuRule:
    def __init__(self, k: float = 1.0, adaptive: bool = False, compensate_asymmetry: bool = True):
        self.k, self.adaptive, self.compensate = k, adaptive, compensate_asymmetry

    def threshold(self, ctx: RuleContext):
        """Wanted Δw_th = k·σ in weight units: a scalar, or per cell (flat) when adaptive."""
        if self.adaptive and ctx.current_sigma is not None:
            return self.k * ctx.current_sigma().ravel()
        return self.k * ctx.sigma_write

    def pulses(self, ctx: RuleContext):
        """Whole pulses per EaPU write (per cell when the threshold is), None on a continuous device."""
        if ctx.pulse_step is None:
            return None
        return np.maximum(np.rint(self.threshold(ctx) / ctx.pulse_step), 1.0)

    def effective_k(self, ctx: RuleContext) -> float:
        """Nominal step / σ of the n-pulse write that makes it (mean over cells)."""
        n = self.pulses(ctx)
        if n is None or np.all(ctx.sigma_write == 0):
            return self.k
        return float(np.mean(n * ctx.pulse_step / (ctx.sigma_write * np.sqrt(n))))

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> list[WritePlan]:
        threshold = self.threshold(ctx)
        flat = delta_w.ravel()
        if not np.count_nonzero(threshold):  # noiseless device: the limit of EaPU is writing ΔW exactly
            cells = np.flatnonzero(flat)
            return [WritePlan("eapu", cells, flat[cells], value_bits=ctx.weight_bits,
                              host_draws=flat.size)]
        n = self.pulses(ctx)
        step = threshold if n is None else n * ctx.pulse_step    # a float, or per cell
        compensating = n is not None and self.compensate and ctx.expected_change is not None
        change = ctx.expected_change(None, np.sign(flat) * n) if compensating else None
        cells, delta = select(flat, change, step, rng.random(flat.size))
        # One bit (the sign) per written cell besides its address; the host draws one number per
        # weight and (compensating) evaluates the expected step per weight.
        return [WritePlan("eapu", cells, delta, value_bits=1, host_draws=flat.size,
                          host_ops=float(flat.size) if compensating else 0.0)]


def select(flat: np.ndarray, change: np.ndarray | None, step, uniform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cells, signed steps) of an EaPU plan: weight i is written with probability
    min(1, |ΔW_i| / realised_i) against `uniform`, by sign(ΔW_i)·step. realised_i is |change_i|,
    the step the device is expected to make (the nominal step where it makes none, a saturated
    device), or the nominal step itself when `change` is None. step: a float or per cell.
    Compiled in one pass when numba is available (the same values)."""
    if _select_nb is not None:
        return _select_nb(flat, np.empty(0) if change is None else change, change is not None,
                          np.asarray(step, dtype=np.float64).reshape(-1), uniform)
    realised = step
    if change is not None:
        realised = np.abs(change)
        realised = np.where(realised > 0, realised, step)    # a saturated device: nominal
    probability = np.minimum(1.0, np.abs(flat) / realised)
    cells = np.flatnonzero(uniform < probability)
    return cells, np.sign(flat[cells]) * (step[cells] if np.ndim(step) else step)


def _select_py(flat, change, compensating, step, uniform):
    """select weight by weight: np.where, np.minimum (NaN kept) and the comparison as numpy
    evaluates them; step has one value or one per cell."""
    cells, delta = np.empty(flat.size, dtype=np.intp), np.empty(flat.size)
    k = 0
    for i in range(flat.size):
        nominal = step[0] if step.size == 1 else step[i]
        realised = nominal
        if compensating:
            realised = abs(change[i])
            realised = realised if realised > 0 else nominal
        probability = abs(flat[i]) / realised
        probability = 1.0 if probability >= 1.0 else probability     # np.minimum(1.0, p)
        if uniform[i] < probability:
            cells[k], delta[k] = i, np.sign(flat[i]) * nominal
            k += 1
    return cells[:k], delta[:k]


_select_nb = jit(_select_py)
