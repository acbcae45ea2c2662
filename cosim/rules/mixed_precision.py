"""Mixed precision (Nandakumar et al., Front. Neurosci. 2020): a digital accumulator χ per weight
collects ΔW; where |χ| reaches the transfer threshold ε the device is written by the whole
multiples of ε and χ keeps the remainder. The deterministic cousin of EaPU: the same threshold
ε = k·σ_write, but the host carries the sub-threshold part instead of a coin flip."""
from __future__ import annotations

import numpy as np
from pydantic import Field

from cosim.registry import register_rule
from cosim.rules.plan import RuleContext, WritePlan
from cosim.specs.base import FrozenSpec


class MixedPrecisionRule:
    def __init__(self, k: float = 1.0):
        self.k = k
        self.accumulators: dict[str, np.ndarray] = {}

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> list[WritePlan]:
        acc = self.accumulators.setdefault(ctx.matrix, np.zeros(delta_w.size))
        acc += delta_w.ravel()
        epsilon = self.k * ctx.sigma_write
        if np.all(epsilon == 0.0):      # noiseless device: nothing to accumulate against
            steps, epsilon = np.sign(acc), np.abs(acc)
        else:
            steps = np.trunc(acc / epsilon)
        cells = np.flatnonzero(steps)
        delta = (steps * epsilon)[cells]
        acc[cells] -= delta
        # The host adds ΔW into χ and compares |χ| with ε: two ops per weight.
        return [WritePlan("open_loop", cells, delta, value_bits=ctx.weight_bits, host_ops=2.0 * acc.size)]


class MixedPrecisionParams(FrozenSpec):
    """Workload `rules.mixed_precision`."""

    k: float = Field(1.0, gt=0.0, le=1e3, description="Transfer threshold ε = k · σ_write (dimensionless).")


@register_rule("mixed_precision", plan_modes=("open_loop",), stateless=False, params=MixedPrecisionParams)
def mixed_precision(params: MixedPrecisionParams) -> MixedPrecisionRule:
    return MixedPrecisionRule(k=params.k)
