"""EaPU, error-aware probabilistic update (Nature Communications 2025, doi 10.1038/s41467-025-66240-7).

Write a weight with probability p = min(1, |ΔW| / Δw_th) and then by a full step sign(ΔW)·Δw_th,
so E[change] = ΔW whenever |ΔW| <= Δw_th. Δw_th = k · σ_write (our choice; the paper does not
publish its formula): fixed uses the device's nominal σ_write, adaptive each cell's current
σ_write (which grows with time since its last write on relaxing devices).
"""
from __future__ import annotations

import numpy as np

from cosim.rules.plan import RuleContext, WritePlan


class EapuRule:
    name, analog, controller = "eapu", True, "eapu"

    def __init__(self, k: float = 1.0, adaptive: bool = False):
        self.k, self.adaptive = k, adaptive

    def threshold(self, ctx: RuleContext):
        """Δw_th in weight units: a scalar, or per cell (flat) when adaptive."""
        if self.adaptive and ctx.current_sigma is not None:
            return self.k * ctx.current_sigma().ravel()
        return self.k * ctx.sigma_write

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> WritePlan:
        threshold = self.threshold(ctx)
        flat = delta_w.ravel()
        if np.all(threshold == 0.0):  # noiseless device: the limit of EaPU is writing ΔW exactly
            cells = np.flatnonzero(flat)
            return WritePlan("eapu", cells, flat[cells], value_bits=ctx.weight_bits,
                             host_draws=flat.size)
        probability = np.minimum(1.0, np.abs(flat) / threshold)
        cells = np.flatnonzero(rng.random(flat.size) < probability)
        delta = np.sign(flat[cells]) * np.broadcast_to(threshold, flat.shape)[cells]
        # One bit (the sign) per written cell besides its address.
        return WritePlan("eapu", cells, delta, value_bits=1, host_draws=flat.size)
