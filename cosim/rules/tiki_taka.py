"""Tiki-taka (Gokmen & Haensch, Front. Neurosci. 2020): updates go open loop onto a fast matrix A
held on its own tiles; every `transfer_every` steps a few rows of A are read through the tile
(a priced MVM with one-hot inputs) and added, scaled by γ, onto the slow matrix C that the network
uses, and the transferred entries of A are written back towards zero. Small noisy updates thus
reach C only once A has integrated them above a pulse step.
"""
from __future__ import annotations

import numpy as np
from pydantic import Field

from cosim.registry import register_rule
from cosim.rules.plan import FAST, RuleContext, WritePlan
from cosim.specs.base import FrozenSpec, PositiveInt


class TikiTakaRule:
    fast_matrix = True

    def __init__(self, transfer_every: int = 1, rows_per_transfer: int = 1, transfer_scale: float = 1.0):
        self.transfer_every, self.rows_per_transfer, self.gamma = transfer_every, rows_per_transfer, transfer_scale
        self.calls: dict[str, int] = {}
        self.next_row: dict[str, int] = {}

    def plan(self, delta_w: np.ndarray, ctx: RuleContext, rng: np.random.Generator) -> list[WritePlan]:
        count = self.calls.get(ctx.matrix, 0)
        self.calls[ctx.matrix] = count + 1
        plans = self._transfer(delta_w.shape, ctx) if count % self.transfer_every == 0 else []
        flat = delta_w.ravel()
        cells = np.flatnonzero(flat)
        plans.append(WritePlan("open_loop", cells, flat[cells], value_bits=ctx.weight_bits, target=FAST))
        return plans

    def _transfer(self, shape: tuple[int, int], ctx: RuleContext) -> list[WritePlan]:
        rows_in, cols = shape
        start = self.next_row.get(ctx.matrix, 0)
        rows = (start + np.arange(min(self.rows_per_transfer, rows_in))) % rows_in
        self.next_row[ctx.matrix] = int(rows[-1] + 1) % rows_in
        probe = np.zeros((rows.size, rows_in))
        probe[np.arange(rows.size), rows] = 1.0
        read = ctx.fast.matmul(probe)                       # rows of A, as the tile reads them
        step = ctx.pulse_step if ctx.pulse_step is not None else ctx.sigma_write
        if np.ndim(step):                                   # per-column mapping: per-cell steps
            step = np.reshape(step, shape)[rows]
        move = (np.abs(self.gamma * read) >= 0.5 * step) & (read != 0)   # below half a pulse nothing moves
        cells = (rows[:, None] * cols + np.arange(cols))[move]
        return [WritePlan("open_loop", cells, (self.gamma * read)[move], value_bits=ctx.weight_bits),
                WritePlan("open_loop", cells, -read[move], value_bits=ctx.weight_bits, target=FAST)]


class TikiTakaParams(FrozenSpec):
    """Workload `rules.tiki_taka`."""

    transfer_every: PositiveInt = Field(1, le=100000, description="Steps between transfers from fast to slow.")
    rows_per_transfer: PositiveInt = Field(1, le=65536, description="Rows of the fast matrix read per transfer.")
    transfer_scale: float = Field(1.0, gt=0.0, le=100.0, description="Slow-matrix change per unit read from fast (γ).")


@register_rule("tiki_taka", plan_modes=("open_loop",), stateless=False, params=TikiTakaParams)
def tiki_taka(params: TikiTakaParams) -> TikiTakaRule:
    return TikiTakaRule(params.transfer_every, params.rows_per_transfer, params.transfer_scale)
