"""The interface through which every layer's weight matrix is used.

A layer never touches weights directly: it calls `matmul` / `matmul_t` and hands its gradient to
the trainer. The same network therefore runs ideal (DigitalMatrix, FP32/FP64 numpy) or on
simulated tiles (cosim.nn.analog.AnalogMatrix) without a line of layer code changing.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from cosim.nn.records import GradientMacs, HostMatmul


def record_weight_gradient(matrix, macs: float) -> None:
    """Record in `matrix`'s work list the host MACs that formed its weight gradient (a matrix
    without a priced work list, `record` and `ops`, records nothing)."""
    if getattr(matrix, "record", False):
        matrix.ops.append(GradientMacs(macs))


class Matrix(Protocol):
    """A weight matrix W of shape (in_features, out_features)."""

    in_features: int
    out_features: int

    def matmul(self, x: np.ndarray, input_values: int | None = None) -> np.ndarray:
        """Forward product x @ W for x of shape (N, in_features). `input_values`: how many
        distinct values x was unrolled from (a conv's feature map), for pricing its transfer."""

    def matmul_t(self, dy: np.ndarray) -> np.ndarray:
        """Backward product dy @ W.T for dy of shape (N, out_features)."""

    def weights(self) -> np.ndarray:
        """A copy of the weights as the hardware currently holds them, shape (in, out)."""

    def apply_update(self, delta_w: np.ndarray) -> None:
        """Apply an ideal update W += delta_w (only meaningful for digital matrices)."""


class DigitalMatrix:
    """Exact weights in host memory: the FP reference every analog matrix is compared with."""

    def __init__(self, w: np.ndarray):
        self.w = np.array(w, dtype=np.float64)
        self.in_features, self.out_features = self.w.shape
        # Each product as a HostMatmul, in call order (digital work to be priced); the trainer
        # may replace the list by any sink with an `append` method.
        self.ops: list[HostMatmul] = []
        self.record = True  # False: products are measurements, not priced work

    def _count(self, vectors: int) -> None:
        if self.record:
            self.ops.append(HostMatmul(float(vectors * self.in_features * self.out_features)))

    def matmul(self, x: np.ndarray, input_values: int | None = None) -> np.ndarray:
        self._count(x.shape[0])
        return x @ self.w

    def matmul_t(self, dy: np.ndarray) -> np.ndarray:
        self._count(dy.shape[0])
        return dy @ self.w.T

    def weights(self) -> np.ndarray:
        return self.w.copy()

    def apply_update(self, delta_w: np.ndarray) -> None:
        self.w += delta_w
