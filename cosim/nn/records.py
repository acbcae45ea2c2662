"""Typed records of the work a network asks of the hardware, in the order a tape replays them.

* `MvmOp`: one matrix-vector-multiply call on a matrix's tiles (an AnalogMatrix records it from
  its numerics; cost-only builds it from shapes, cosim.nn.work).
* `HostWork`: digital work on the host (multiply-accumulates and elementwise ops) of one phase.
* `HostMatmul`: a matrix product done digitally (a DigitalMatrix, or a backward pass on the
  host); the tape names it after the phase it ran in.
* `GradientMacs`: the host MACs of one weight gradient (x^T·δ), booked in the weight-gradient
  phase whatever phase it ran in.

Every record has `on_tape(phase)` (what the tape stores) and the stored ones `run_on(chip)`
(the SimPy process that prices and times it), so nothing dispatches on a record's type.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MvmOp:
    """One MVM call on a matrix: `vectors` inputs through every tile of the grid.

    rows_used[r] / cols_used[c]: active rows of tile-row block r and columns of block c, in the
    direction of the product (backward swaps them). conductance_load[r, c]: Σ over vectors,
    phases and slices of a²·(G⁺ + G⁻) summed over the driven cells of tile (r, c), in siemens
    (a = the row drive amplitude as a fraction of the read voltage) — the array's read energy is
    V_read²·t_read times this.
    """

    matrix: str
    direction: str
    vectors: int
    phases: int
    slices: int
    rows_used: np.ndarray
    cols_used: np.ndarray
    conductance_load: np.ndarray
    in_features: int
    out_features: int
    # Values the host sends for this product. A conv sends its feature map, not the k·k-times
    # larger im2col columns (the tile's input buffer unrolls it); None = vectors · in_features.
    input_values: int | None = None
    # True for the ADC range calibration pass a calibrating product makes first (the same
    # inputs through the same tiles, to find the column currents' peak; cosim.nn.analog).
    calibration: bool = False

    @property
    def values_in(self) -> int:
        return self.vectors * self.in_features if self.input_values is None else self.input_values

    def on_tape(self, phase: str) -> "MvmOp":
        return self

    def run_on(self, chip):
        """SimPy process of this work on `chip` (cosim.hardware.chip.Chip)."""
        return chip.mvm(self)


@dataclass(frozen=True)
class HostWork:
    """`macs` multiply-accumulates and `ops` elementwise operations on the host, booked as `op`."""

    op: str
    macs: float = 0.0
    ops: float = 0.0

    def on_tape(self, phase: str) -> "HostWork":
        return self

    def run_on(self, chip):
        return chip.host_work(self.op, self.macs, self.ops)


@dataclass(frozen=True)
class HostMatmul:
    """A digital matrix product of `macs` multiply-accumulates."""

    macs: float

    def on_tape(self, phase: str) -> HostWork:
        return HostWork(f"{phase}_matmul", self.macs)


@dataclass(frozen=True)
class GradientMacs:
    """Multiply-accumulates of one weight gradient (x^T·δ, computed digitally on the host), as a
    matrix records them in its work list beside its products (priced in the weight-gradient
    phase, not the error back-propagation)."""

    macs: float

    def on_tape(self, phase: str) -> HostWork:
        return HostWork("weight_gradient", self.macs)
