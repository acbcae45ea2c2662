"""Losses, computed on the host. Each returns (loss, gradient of the loss w.r.t. its input) and
counts its host work in `host_ops`."""
from __future__ import annotations

import numpy as np

from cosim.nn.layers import OpCount

# Softmax + log + pick + gradient: roughly six host ops per logit.
CROSS_ENTROPY_OPS_PER_LOGIT = 6
MSE_OPS_PER_ELEMENT = 3  # difference, square-accumulate, gradient scale


class SoftmaxCrossEntropy:
    """Mean over the batch of -log softmax(logits)[label]; labels are class indices (N,)."""

    def __init__(self) -> None:
        self.host_ops = OpCount()

    def __call__(self, logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
        n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_probs = shifted - log_norm
        rows = np.arange(n)
        loss = -log_probs[rows, labels].mean()
        dlogits = np.exp(log_probs)
        dlogits[rows, labels] -= 1.0
        self.host_ops.add(ops=CROSS_ENTROPY_OPS_PER_LOGIT * logits.size)
        return float(loss), dlogits / n


class MeanSquaredError:
    """Mean over all elements of (prediction - target)^2."""

    def __init__(self) -> None:
        self.host_ops = OpCount()

    def __call__(self, prediction: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        diff = prediction - target
        self.host_ops.add(ops=MSE_OPS_PER_ELEMENT * diff.size)
        return float(np.mean(diff * diff)), 2.0 * diff / diff.size


LOSSES = {"cross_entropy": SoftmaxCrossEntropy, "mse": MeanSquaredError}


def make_loss(name: str):
    """The loss named in an Arch ("cross_entropy" or "mse")."""
    if name not in LOSSES:
        raise KeyError(f"unknown loss {name!r}; known: {', '.join(sorted(LOSSES))}")
    return LOSSES[name]()
