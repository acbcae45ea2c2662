"""Turn an architecture descriptor (cosim.arch.Arch) into runnable layers.

Every weight matrix is created by the caller's `make_matrix(name, w_init)`, so the same
descriptor yields an ideal network (DigitalMatrix) or one on simulated tiles. Names are derived
from the position in the tree ("conv3", "block2.conv1", "block4.shortcut.conv1",
"block1.attn.qkv") and are therefore unique and stable for a given Arch.
"""
from __future__ import annotations

from collections import Counter
from typing import Callable

import numpy as np

from cosim.arch import Arch, Node
from cosim.nn.attention import ClassToken, MultiHeadSelfAttention, TakeToken
from cosim.nn.blocks import GELU, GlobalResidual, Residual
from cosim.nn.conv import Conv2d, PatchEmbed
from cosim.nn.layers import ACTIVATIONS, HostParam, Layer, Linear, MatrixParam, Sequential
from cosim.nn.losses import make_loss
from cosim.nn.matrix import Matrix
from cosim.nn.norm import BatchNorm2d, LayerNorm
from cosim.nn.shape_ops import Flatten, GlobalAvgPool, MaxPool2d, PixelShuffle

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
        macs, ops = self.root.take_host_ops()
        loss_macs, loss_ops = self.loss.host_ops.take()
        return macs + loss_macs, ops + loss_ops


class _Builder:
    def __init__(self, make_matrix: MakeMatrix, rng: np.random.Generator, init):
        self.make_matrix, self.rng, self.init = make_matrix, rng, init
        self.counts: Counter = Counter()

    def name(self, scope: str, kind: str, number_first: bool = True) -> str:
        self.counts[(scope, kind)] += 1
        n = self.counts[(scope, kind)]
        return f"{scope}{kind}{n}" if number_first or n > 1 else f"{scope}{kind}"

    def matrix(self, name: str, fan_in: int, fan_out: int, zero: bool = False) -> Matrix:
        w = np.zeros((fan_in, fan_out)) if zero else self.init(fan_in, fan_out, self.rng)
        return self.make_matrix(name, w)

    def build(self, node: Node, scope: str) -> Layer:
        op = node.op
        if op == "sequential":
            return Sequential([self.build(child, scope) for child in node.children])
        if op == "residual":
            block = self.name(scope, "block") + "."
            body, shortcut = node.children
            return Residual(self.build(body, block), self.build(shortcut, block + "shortcut."))
        if op == "global_residual":
            return GlobalResidual(self.build(node.children[0], scope))
        if op in ACTIVATIONS:
            return ACTIVATIONS[op]()
        if op in _SIMPLE:
            return _SIMPLE[op](node)
        if op in _WITH_PARAMS:
            return _WITH_PARAMS[op](self, node, scope)
        raise ValueError(f"no layer for op {op!r}")


def _linear(b: _Builder, node: Node, scope: str) -> Layer:
    name = b.name(scope, "linear")
    fan_in, fan_out = node.attr("in_features"), node.attr("out_features")
    return Linear(b.matrix(name, fan_in, fan_out), name, bias=node.attr("bias", True))


def _conv(b: _Builder, node: Node, scope: str) -> Layer:
    name, k, c_in = b.name(scope, "conv"), node.attr("kernel"), node.attr("c_in")
    matrix = b.matrix(name, k * k * c_in, node.attr("c_out"), zero=node.attr("zero_init", False))
    return Conv2d(matrix, c_in, k, node.attr("stride", 1),
                  node.attr("padding", 0), name, bias=node.attr("bias", True))


def _attention(b: _Builder, node: Node, scope: str) -> Layer:
    name, dim = b.name(scope, "attn", number_first=False), node.attr("dim")
    return MultiHeadSelfAttention(b.matrix(f"{name}.qkv", dim, 3 * dim),
                                  b.matrix(f"{name}.proj", dim, dim), node.attr("heads"), name)


def _patch_embed(b: _Builder, node: Node, scope: str) -> Layer:
    name, p, c_in = b.name(scope, "patch_embed", number_first=False), node.attr("patch"), node.attr("c_in")
    return PatchEmbed(b.matrix(name, p * p * c_in, node.attr("dim")), c_in, p, name)


def _class_token(b: _Builder, node: Node, scope: str) -> Layer:
    tokens, dim = node.out_shape
    return ClassToken(tokens, dim, b.rng, b.name(scope, "cls", number_first=False))


_WITH_PARAMS = {
    "linear": _linear, "conv2d": _conv, "attention": _attention, "patch_embed": _patch_embed,
    "class_token": _class_token,
    "batchnorm2d": lambda b, n, s: BatchNorm2d(n.attr("channels"), b.name(s, "bn")),
    "layernorm": lambda b, n, s: LayerNorm(n.attr("dim"), b.name(s, "ln")),
}

_SIMPLE = {
    "gelu": lambda n: GELU(),
    "flatten": lambda n: Flatten(),
    "global_avgpool": lambda n: GlobalAvgPool(),
    "maxpool2d": lambda n: MaxPool2d(n.attr("kernel"), n.attr("stride"), n.attr("padding", 0)),
    "pixel_shuffle": lambda n: PixelShuffle(n.attr("scale")),
    "take_token": lambda n: TakeToken(n.attr("index", 0)),
}


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
