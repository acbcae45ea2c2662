"""Layers with forward/backward in numpy. Weight matrices go through a `Matrix`; everything else
(biases, activations, losses) is digital work on the host and is counted in `host_ops`.

Layer protocol: forward(x, train) -> y; backward(dy) -> dx (stores parameter gradients);
matrix_params() -> list[MatrixParam]; host_params() -> list[HostParam]; host_ops: OpCount.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cosim.nn.matrix import Matrix, record_weight_gradient


@dataclass
class OpCount:
    """Digital work done on the host since the last reset: multiply-accumulates and other ops."""

    macs: float = 0.0
    ops: float = 0.0

    def add(self, macs: float = 0.0, ops: float = 0.0) -> None:
        self.macs += macs
        self.ops += ops

    def take(self) -> tuple[float, float]:
        """Return (macs, ops) and reset to zero."""
        counts = (self.macs, self.ops)
        self.macs = self.ops = 0.0
        return counts


def share_host_ops(*roots) -> OpCount:
    """One OpCount for `roots` and every layer inside them (found through their attributes, in
    lists too): a network then takes its host work from one counter, without walking its tree
    on every take. The counts are whole numbers, so the totals are the same in any order."""
    counter, seen, todo = OpCount(), set(), list(roots)
    while todo:
        item = todo.pop()
        if id(item) in seen or not hasattr(item, "host_ops"):
            continue
        seen.add(id(item))
        item.host_ops = counter
        for value in vars(item).values():
            todo.extend(value if isinstance(value, (list, tuple)) else [value])
    return counter


@dataclass
class MatrixParam:
    """A weight matrix and the gradient of the loss with respect to it, shape (in, out)."""

    name: str
    matrix: Matrix
    grad: np.ndarray | None = None


@dataclass
class HostParam:
    """A digital parameter kept in host memory (bias, norm scale/shift) and its gradient."""

    name: str
    value: np.ndarray
    grad: np.ndarray = field(default=None)


class Layer:
    """Base class: no parameters, no host work."""

    # False for a layer fed by the data itself: its input gradient would never be used, and
    # computing it would cost a backward MVM (see cosim.nn.build.skip_data_input_grad).
    needs_input_grad = True

    def __init__(self) -> None:
        self.host_ops = OpCount()

    def matrix_params(self) -> list[MatrixParam]:
        return []

    def host_params(self) -> list[HostParam]:
        return []

    def take_host_ops(self) -> tuple[float, float]:
        """Host (macs, ops) since the last call; containers override this to include children."""
        return self.host_ops.take()


class Linear(Layer):
    """y = x @ W + b. W lives in a Matrix (tiles or digital); b is a host parameter.
    Leading dimensions are flattened, so token tensors (N, T, D) work as N*T rows."""

    def __init__(self, matrix: Matrix, name: str = "linear", bias: bool = True,
                 needs_input_grad: bool = True):
        super().__init__()
        # The first layer's input gradient is never used: skipping it saves a backward MVM.
        self.needs_input_grad = needs_input_grad
        self.weight = MatrixParam(name, matrix)
        self.bias = HostParam(f"{name}.bias", np.zeros(matrix.out_features)) if bias else None
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self._x = x.reshape(-1, x.shape[-1])
        y = self.weight.matrix.matmul(self._x)
        if self.bias is not None:
            y = y + self.bias.value
            self.host_ops.add(ops=y.size)
        return y.reshape(*x.shape[:-1], y.shape[-1])

    def backward(self, dy: np.ndarray) -> np.ndarray:
        lead = dy.shape[:-1]
        dy = dy.reshape(-1, dy.shape[-1])
        # The weight gradient is an outer product computed digitally on the host.
        self.weight.grad = self._x.T @ dy
        record_weight_gradient(self.weight.matrix, self._x.shape[0] * self._x.shape[1] * dy.shape[1])
        if self.bias is not None:
            self.bias.grad = dy.sum(axis=0)
            self.host_ops.add(ops=dy.size)
        if not self.needs_input_grad:
            return None
        return self.weight.matrix.matmul_t(dy).reshape(*lead, self._x.shape[1])

    def matrix_params(self) -> list[MatrixParam]:
        return [self.weight]

    def host_params(self) -> list[HostParam]:
        return [self.bias] if self.bias is not None else []


class Activation(Layer):
    """An elementwise nonlinearity computed on the host."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray],
                 grad_from_output: Callable[[np.ndarray, np.ndarray], np.ndarray]):
        super().__init__()
        self._fn, self._grad = fn, grad_from_output
        self._x = self._y = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self._x, self._y = x, self._fn(x)
        self.host_ops.add(ops=x.size)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.host_ops.add(ops=dy.size)
        return self._grad(self._x, self._y) * dy


def relu() -> Activation:
    return Activation(lambda x: np.maximum(x, 0.0), lambda x, y: (x > 0).astype(x.dtype))


def sigmoid() -> Activation:
    return Activation(lambda x: 1.0 / (1.0 + np.exp(-x)), lambda x, y: y * (1.0 - y))


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid}


class Sequential(Layer):
    """Layers applied in order; parameters and host work are the union of its layers'."""

    def __init__(self, layers: list):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x, train)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def matrix_params(self) -> list[MatrixParam]:
        return [p for layer in self.layers for p in layer.matrix_params()]

    def host_params(self) -> list[HostParam]:
        return [p for layer in self.layers for p in layer.host_params()]

    def take_host_ops(self) -> tuple[float, float]:
        """Host (macs, ops) of every layer since the last call."""
        totals = [layer.take_host_ops() if hasattr(layer, "take_host_ops") else layer.host_ops.take()
                  for layer in self.layers]
        own = self.host_ops.take()
        return (sum(t[0] for t in totals) + own[0], sum(t[1] for t in totals) + own[1])
