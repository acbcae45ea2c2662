"""Turn an architecture descriptor (cosim.arch.Arch) into runnable layers.

Every weight matrix is created by the caller's `make_matrix(name, w_init)`, so the same
descriptor yields an ideal network (DigitalMatrix) or one on simulated tiles. Names are derived
from the position in the tree ("conv3", "block2.conv1", "block4.shortcut.conv1",
"block1.attn.qkv") and are therefore unique and stable for a given Arch.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from cosim.arch import Arch, Node
from cosim.nn.blocks import GlobalResidual
from cosim.nn.conv import PatchEmbed
from cosim.nn.layers import HostParam, Layer, MatrixParam, Sequential, share_host_ops
from cosim.nn.losses import make_loss
from cosim.nn.matrix import Matrix
from cosim.nn.work import Namer, op_entry

MakeMatrix = Callable[[str, np.ndarray], Matrix]


def he_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """He et al. 2015: keeps activation variance through ReLU layers."""
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))


def xavier_uniform(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """Glorot & Bengio 2010: balances forward and backward variance for saturating units."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out))


class Network:
    """A built network: the layer tree plus the loss its Arch names."""

    def __init__(self, arch: Arch, root: Layer):
        self.arch, self.root = arch, root
        self.loss = make_loss(arch.loss)
        self._host_ops = share_host_ops(root, self.loss)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        return self.root.forward(x, train)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return self.root.backward(dy)

    def loss_and_grad(self, output: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        return self.loss(output, target)

    def matrix_params(self) -> list[MatrixParam]:
        return self.root.matrix_params()

    def host_params(self) -> list[HostParam]:
        return self.root.host_params()

    def take_host_ops(self) -> tuple[float, float]:
        """Host (macs, ops) of every layer and the loss since the last call; resets them."""
        return self._host_ops.take()


class _Builder:
    """Builds each node through its op's entry (cosim.nn.work.OPS)."""

    def __init__(self, make_matrix: MakeMatrix, rng: np.random.Generator, init):
        self.make_matrix, self.rng, self.init = make_matrix, rng, init
        self.name = Namer().name

    def matrix(self, name: str, fan_in: int, fan_out: int, zero: bool = False) -> Matrix:
        w = np.zeros((fan_in, fan_out)) if zero else self.init(fan_in, fan_out, self.rng)
        return self.make_matrix(name, w)

    def build(self, node: Node, scope: str) -> Layer:
        return op_entry(node.op).build(self, node, scope)


def default_init(arch: Arch):
    """He-normal for networks with ReLU, Xavier-uniform otherwise (sigmoid MLP, GELU ViT)."""
    return he_normal if any(node.op == "relu" for node in arch.nodes()) else xavier_uniform


def build_network(arch: Arch, make_matrix: MakeMatrix, rng: np.random.Generator,
                  init=None, input_grad: bool = True) -> Network:
    """Layers for `arch`. make_matrix(name, w_init) -> Matrix gets every weight matrix's unique
    name and initial weights of shape (in_features, out_features) drawn from `rng`.
    `init(fan_in, fan_out, rng)` overrides the default scheme (see default_init). With
    `input_grad=False` backward returns None and skips the work only the input gradient needs."""
    builder = _Builder(make_matrix, rng, init or default_init(arch))
    try:
        root = builder.build(arch.root, "")
    except ValueError as err:
        raise ValueError(f"{arch.name}: {err}") from None
    if not input_grad:
        skip_data_input_grad(root)
    return Network(arch, root)


def skip_data_input_grad(layer: Layer) -> None:
    """Mark the layers that read the network input directly: nobody needs the gradient with
    respect to the data, and on tiles it would cost a whole transposed MVM per step."""
    while True:
        layer.needs_input_grad = False
        if isinstance(layer, Sequential) and layer.layers:
            layer = layer.layers[0]
        elif isinstance(layer, GlobalResidual):
            layer = layer.body
        elif isinstance(layer, PatchEmbed):
            layer = layer.conv
        else:
            return
