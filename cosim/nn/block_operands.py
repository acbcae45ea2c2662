"""The operands of one tile-row block of an analog product (cosim.nn.analog), built once per
product from the pair state: [W | σ²] in the computing precision and G⁺ + G⁻."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.nn.jit import jit


@dataclass(frozen=True)
class BlockOperands:
    """One tile-row block of a product, in the computing precision: [W | σ²] (rows, 2·cols), the
    weights x⁺ - x⁻ beside their read-noise variances σ_read²·(g⁺² + g⁻²) (normalised
    conductance², g = x + g_min/(g_max - g_min)), so one product gives currents and variances;
    and G⁺ + G⁻ (normalised, float64) for the conductance load."""

    w_var: np.ndarray
    g_pair: np.ndarray

    @property
    def w(self) -> np.ndarray:
        return self.w_var[:, :self.g_pair.shape[1]]

    @property
    def variance(self) -> np.ndarray:
        return self.w_var[:, self.g_pair.shape[1]:]


def block_operands(x_dev: np.ndarray, g_min_x: float, noise_var: float, transpose: bool, rows: slice,
                   precision) -> BlockOperands:
    """The operands of input lines `rows` of the pair state x_dev (2, in, out) (transposed: of
    x_dev's columns, for the backward product); σ_read² = noise_var. Compiled in one pass when
    numba is available (the same values as the numpy form)."""
    plane = x_dev.transpose(0, 2, 1) if transpose else x_dev
    lines = range(plane.shape[1])[rows]
    w_var = np.empty((len(lines), 2 * plane.shape[2]), dtype=precision)
    # G⁺ + G⁻ in the layout of the state's (transposed) view: _load's row sums keep their order.
    g_pair = np.empty((len(lines), plane.shape[2]), order="F" if transpose else "C")
    if _block_operands_nb is not None:
        _block_operands_nb(x_dev, g_min_x, noise_var, transpose, lines.start, w_var, g_pair)
        return BlockOperands(w_var, g_pair)
    g = plane[:, rows] + g_min_x
    cols = g_pair.shape[1]
    w_var[:, :cols] = plane[0, rows] - plane[1, rows]
    w_var[:, cols:] = noise_var * (g[0] ** 2 + g[1] ** 2)
    np.add(g[0], g[1], out=g_pair)
    return BlockOperands(w_var, g_pair)


def _block_operands_py(x_dev, g_min_x, noise_var, transpose, start, w_var, g_pair):
    """block_operands element by element, in float64 and rounded once to the precision."""
    cols = g_pair.shape[1]
    for i in range(g_pair.shape[0]):
        for c in range(cols):
            plus = x_dev[0, c, start + i] if transpose else x_dev[0, start + i, c]
            minus = x_dev[1, c, start + i] if transpose else x_dev[1, start + i, c]
            g_plus, g_minus = plus + g_min_x, minus + g_min_x
            w_var[i, c] = plus - minus
            w_var[i, cols + c] = noise_var * (g_plus * g_plus + g_minus * g_minus)
            g_pair[i, c] = g_plus + g_minus


_block_operands_nb = jit(_block_operands_py)
