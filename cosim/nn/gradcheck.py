"""Finite-difference gradient checks for layers and networks on DigitalMatrix weights (float64).

Each check compares the analytic gradient with central differences on a random subset of entries
and returns the error relative to the largest gradient entry checked (or `floor`, whichever is
larger), so one number says how well the two agree regardless of the gradient's scale.

ReLU and max-pool are not differentiable everywhere: a step that crosses a kink gives a wrong
difference quotient although the analytic gradient is right. `steps` therefore lists fallback
step sizes; an entry that disagrees at the first step is retried with the others and keeps its
best agreement. A wrong analytic gradient disagrees at every step size and still fails.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

STEPS = (1e-6,)
KINK_ROBUST_STEPS = (1e-6, 1e-7, 1e-5, 1e-8)


def _difference_quotient(loss: Callable[[], float], flat: np.ndarray, index: int, eps: float) -> float:
    saved = flat[index]
    flat[index] = saved + eps
    up = loss()
    flat[index] = saved - eps
    down = loss()
    flat[index] = saved
    return (up - down) / (2 * eps)


def check_array(loss: Callable[[], float], array: np.ndarray, analytic: np.ndarray,
                rng: np.random.Generator, samples: int = 12, steps=STEPS, floor: float = 1e-12,
                retry_above: float = 1e-7) -> float:
    """Perturb `samples` random entries of `array` in place (restored afterwards) and compare
    central differences of `loss` with `analytic` there. Returns max |numeric - analytic| /
    max(largest |analytic|, floor); entries worse than `retry_above` are retried with the
    remaining `steps`."""
    flat, grad = array.reshape(-1), np.asarray(analytic).reshape(-1)
    picks = rng.choice(flat.size, size=min(samples, flat.size), replace=False)
    scale = max(np.abs(grad[picks]).max(), floor)
    errors = []
    for index in picks:
        error = np.inf
        for eps in steps:
            error = min(error, abs(_difference_quotient(loss, flat, index, eps) - grad[index]) / scale)
            if error <= retry_above:
                break
        errors.append(error)
    return float(max(errors))


def check_model(model, x: np.ndarray, loss_of_output: Callable[[np.ndarray], tuple[float, np.ndarray]],
                rng: np.random.Generator, samples: int = 12, train: bool = True,
                **check_options) -> dict[str, float]:
    """Relative error of the input gradient and of every matrix and host parameter gradient.

    `model` follows the layer protocol and its matrices must expose their weights as `.w`
    (DigitalMatrix). `loss_of_output(y)` returns (loss, dloss/dy). Extra keyword arguments go
    to `check_array`."""
    x = np.array(x, dtype=np.float64)
    _, dy = loss_of_output(model.forward(x, train))
    dx = model.backward(dy)
    analytic = {"input": (x, dx)}
    analytic.update({f"matrix:{p.name}": (p.matrix.w, p.grad.copy()) for p in model.matrix_params()})
    analytic.update({f"host:{p.name}": (p.value, p.grad.copy()) for p in model.host_params()})

    def loss() -> float:
        return loss_of_output(model.forward(x, train))[0]

    return {name: check_array(loss, array, grad, rng, samples, **check_options)
            for name, (array, grad) in analytic.items()}


def projection_loss(weights: np.ndarray) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """L = sum(y * weights): a loss whose output gradient is a fixed random tensor."""
    return lambda y: (float(np.sum(y * weights)), weights)
