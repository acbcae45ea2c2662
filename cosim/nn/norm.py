"""Normalisation layers. Both are digital host work; scale and shift are host parameters."""
from __future__ import annotations

import numpy as np

from cosim.nn.layers import HostParam, Layer

# Rough host-op cost per element: mean, variance, normalise, scale and shift (forward);
# the matching reductions and products in backward. Used only for cost accounting.
NORM_FORWARD_OPS_PER_ELEMENT = 6
NORM_BACKWARD_OPS_PER_ELEMENT = 8


def _normalised_grad(dxhat: np.ndarray, xhat: np.ndarray, inv_std: np.ndarray,
                     axes: tuple[int, ...]) -> np.ndarray:
    """Gradient through xhat = (x - mean) * inv_std with mean and variance taken over `axes`."""
    count = np.prod([dxhat.shape[a] for a in axes])
    mean_d = dxhat.sum(axis=axes, keepdims=True) / count
    mean_dx = (dxhat * xhat).sum(axis=axes, keepdims=True) / count
    return inv_std * (dxhat - mean_d - xhat * mean_dx)


class BatchNorm2d(Layer):
    """Batch normalisation over (N, H, W) per channel of (N, C, H, W).

    Training uses the batch statistics and updates exponential running averages
    (momentum = weight of the new batch, unbiased variance as in PyTorch); eval uses the
    running averages, so the layer becomes a fixed per-channel affine map."""

    def __init__(self, channels: int, name: str = "bn", momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.gamma = HostParam(f"{name}.gamma", np.ones(channels))
        self.beta = HostParam(f"{name}.beta", np.zeros(channels))
        self.running_mean = np.zeros(channels)
        self.running_var = np.ones(channels)
        self.momentum, self.eps = momentum, eps
        self._cache = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        axes = (0, 2, 3)
        if train:
            mean = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True)
            self._update_running(mean.ravel(), var.ravel(), x.size // x.shape[1])
        else:
            mean = self.running_mean.reshape(1, -1, 1, 1)
            var = self.running_var.reshape(1, -1, 1, 1)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = (x - mean) * inv_std
        self._cache = (xhat, inv_std, train)
        self.host_ops.add(ops=NORM_FORWARD_OPS_PER_ELEMENT * x.size)
        return xhat * self.gamma.value.reshape(1, -1, 1, 1) + self.beta.value.reshape(1, -1, 1, 1)

    def _update_running(self, mean: np.ndarray, var: np.ndarray, count: int) -> None:
        unbiased = var * count / max(count - 1, 1)
        self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
        self.running_var = (1 - self.momentum) * self.running_var + self.momentum * unbiased

    def backward(self, dy: np.ndarray) -> np.ndarray:
        xhat, inv_std, train = self._cache
        self.gamma.grad = (dy * xhat).sum(axis=(0, 2, 3))
        self.beta.grad = dy.sum(axis=(0, 2, 3))
        dxhat = dy * self.gamma.value.reshape(1, -1, 1, 1)
        self.host_ops.add(ops=NORM_BACKWARD_OPS_PER_ELEMENT * dy.size)
        if not train:  # fixed statistics: a plain affine map
            return dxhat * inv_std
        return _normalised_grad(dxhat, xhat, inv_std, (0, 2, 3))

    def host_params(self) -> list[HostParam]:
        return [self.gamma, self.beta]


class LayerNorm(Layer):
    """Layer normalisation over the last dimension (token width), same in train and eval."""

    def __init__(self, dim: int, name: str = "ln", eps: float = 1e-5):
        super().__init__()
        self.gamma = HostParam(f"{name}.gamma", np.ones(dim))
        self.beta = HostParam(f"{name}.beta", np.zeros(dim))
        self.eps = eps
        self._cache = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        inv_std = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + self.eps)
        xhat = (x - mean) * inv_std
        self._cache = (xhat, inv_std)
        self.host_ops.add(ops=NORM_FORWARD_OPS_PER_ELEMENT * x.size)
        return xhat * self.gamma.value + self.beta.value

    def backward(self, dy: np.ndarray) -> np.ndarray:
        xhat, inv_std = self._cache
        lead = tuple(range(dy.ndim - 1))
        self.gamma.grad = (dy * xhat).sum(axis=lead)
        self.beta.grad = dy.sum(axis=lead)
        self.host_ops.add(ops=NORM_BACKWARD_OPS_PER_ELEMENT * dy.size)
        return _normalised_grad(dy * self.gamma.value, xhat, inv_std, (dy.ndim - 1,))

    def host_params(self) -> list[HostParam]:
        return [self.gamma, self.beta]
