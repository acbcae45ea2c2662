"""Manhattan rule (Zamanidoost et al., IJCNN 2015): only the sign of ΔW is used; every weight with
a nonzero update gets one nominal pulse in that direction (on a continuous device, a step of
σ_write, its smallest meaningful move)."""
from __future__ import annotations

import numpy as np

from cosim.registry import register_rule
from cosim.rules.plan import RuleContext, WritePlan, at_cells


@register_rule("manhattan", plan_modes=("open_loop",), stateless=True)
class ManhattanRule:
    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> list[WritePlan]:
        flat = delta_w.ravel()
        cells = np.flatnonzero(flat)
        step = ctx.pulse_step if ctx.pulse_step is not None else ctx.sigma_write
        return [WritePlan("open_loop", cells, np.sign(flat[cells]) * at_cells(step, cells), value_bits=1)]
