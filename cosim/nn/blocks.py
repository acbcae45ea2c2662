"""Composite layers (residual connections) and the GELU nonlinearity."""
from __future__ import annotations

import numpy as np

from cosim.nn.layers import Activation, HostParam, Layer, MatrixParam, Sequential

# tanh-approximate GELU (Hendrycks & Gimpel 2016): cube, scale, add, tanh, add, two products.
GELU_FORWARD_OPS_PER_ELEMENT = 8
GELU_BACKWARD_OPS_PER_ELEMENT = 10
_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
_CUBIC = 0.044715


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(_SQRT_2_OVER_PI * (x + _CUBIC * x ** 3)))


def _gelu_grad(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    t = np.tanh(_SQRT_2_OVER_PI * (x + _CUBIC * x ** 3))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _SQRT_2_OVER_PI * (1.0 + 3 * _CUBIC * x * x)


class GELU(Activation):
    """tanh-approximate GELU, counted at several host ops per element."""

    def __init__(self) -> None:
        super().__init__(_gelu, _gelu_grad)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        y = super().forward(x, train)
        self.host_ops.add(ops=(GELU_FORWARD_OPS_PER_ELEMENT - 1) * x.size)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.host_ops.add(ops=(GELU_BACKWARD_OPS_PER_ELEMENT - 1) * dy.size)
        return super().backward(dy)


class _Container(Layer):
    """A layer made of sub-layers: parameters and host work are the union of theirs."""

    def __init__(self, parts: list[Layer]):
        super().__init__()
        self.parts = parts

    def matrix_params(self) -> list[MatrixParam]:
        return [p for part in self.parts for p in part.matrix_params()]

    def host_params(self) -> list[HostParam]:
        return [p for part in self.parts for p in part.host_params()]

    def take_host_ops(self) -> tuple[float, float]:
        macs, ops = self.host_ops.take()
        for part in self.parts:
            part_macs, part_ops = part.take_host_ops()
            macs, ops = macs + part_macs, ops + part_ops
        return macs, ops


class Residual(_Container):
    """y = body(x) + shortcut(x); an empty shortcut Sequential is the identity."""

    def __init__(self, body: Layer, shortcut: Layer | None = None):
        shortcut = shortcut if shortcut is not None else Sequential([])
        super().__init__([body, shortcut])
        self.body, self.shortcut = body, shortcut

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        y = self.body.forward(x, train) + self.shortcut.forward(x, train)
        self.host_ops.add(ops=y.size)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dx = self.body.backward(dy) + self.shortcut.backward(dy)
        self.host_ops.add(ops=dx.size)
        return dx


class GlobalResidual(_Container):
    """y = x - body(x): the body predicts the residual (noise in DnCNN)."""

    def __init__(self, body: Layer):
        super().__init__([body])
        self.body = body

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        y = x - self.body.forward(x, train)
        self.host_ops.add(ops=y.size)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        # The body's output enters with a minus sign, so its parameters see -dy.
        body_dx = self.body.backward(-dy)
        self.host_ops.add(ops=dy.size)
        if body_dx is None:   # fed by the data: no input gradient wanted
            return None
        dx = dy + body_dx
        self.host_ops.add(ops=dx.size)
        return dx
