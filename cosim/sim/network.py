"""Building the trained network for a method: the same initial weights on digital or analog
matrices, so methods differ only in how weights are stored and written."""
from __future__ import annotations

import numpy as np

from cosim.nn.analog import AnalogMatrix
from cosim.nn.arch import Arch
from cosim.nn.layers import ACTIVATIONS, Linear, Sequential
from cosim.nn.matrix import DigitalMatrix
from cosim.rules.plan import FAST


def initial_weights(arch: Arch, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Glorot-uniform weights per linear layer, named fc1, fc2, ..."""
    weights = {}
    for i, node in enumerate(n for n in arch.nodes() if n.op == "linear"):
        fan_in, fan_out = node.attr("in_features"), node.attr("out_features")
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights[f"fc{i + 1}"] = rng.uniform(-limit, limit, (fan_in, fan_out))
    return weights


def build_mlp(arch: Arch, matrices: dict) -> Sequential:
    """Sequential network of `arch` (an MLP) using the given matrices by name."""
    layers, index = [], 0
    for node in arch.root.children:
        if node.op == "linear":
            index += 1
            layers.append(Linear(matrices[f"fc{index}"], f"fc{index}", needs_input_grad=index > 1))
        else:
            layers.append(ACTIVATIONS[node.op]())
    return Sequential(layers)


def make_matrices(weights: dict[str, np.ndarray], analog: bool, hw, weight_bound: float,
                  rng: np.random.Generator) -> dict:
    if not analog:
        return {name: DigitalMatrix(w) for name, w in weights.items()}
    return {name: AnalogMatrix(name, w, hw, weight_bound, rng) for name, w in weights.items()}


def make_fast_matrices(matrices: dict, hw, weight_bound: float, rng: np.random.Generator) -> dict:
    """A zero-weight analog twin `<name>.fast` of every matrix, on tiles of its own (tiki_taka)."""
    return {name + FAST: AnalogMatrix(name + FAST, np.zeros((m.in_features, m.out_features)), hw,
                                      weight_bound, rng)
            for name, m in matrices.items()}
