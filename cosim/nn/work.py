"""The one registry of network ops: per op, its numpy layer and the work it asks of the hardware.

Every op of an `Arch` (cosim.arch) has one `OpEntry`:
  * `build(builder, node, scope) -> Layer`: the numpy layer (cosim.nn.build walks the tree with it);
  * `work(walker, node, nonneg, first) -> (forward, backward, output non-negative)`: the records
    (cosim.nn.records) one training step of a batch asks for, from shapes alone: tile MVMs per
    matrix and direction (vectors, input phases, slices, tile lines, a statistical conductance
    load), host MACs and elementwise ops. The host counts mirror what each numpy layer adds to
    its `host_ops`, so shapes-only work and a real step agree (tests/test_cost_equivalence.py).
Matrix names come from the same `Namer` in both, so a matrix is called alike in training and
cost-only. The GPU model keeps its own kernel formulas keyed by op (cosim.gpu.ops.GPU_RULES);
a test checks that every op here has one. Adding a layer: its layer class, one entry here, one
GPU rule.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cosim.arch import Arch, Node
from cosim.devices.tile_map import TileMap
from cosim.nn.attention import (SOFTMAX_BACKWARD_OPS_PER_ELEMENT, SOFTMAX_FORWARD_OPS_PER_ELEMENT,
                                ClassToken, MultiHeadSelfAttention, TakeToken)
from cosim.nn.blocks import (GELU, GELU_BACKWARD_OPS_PER_ELEMENT, GELU_FORWARD_OPS_PER_ELEMENT,
                             GlobalResidual, Residual)
from cosim.nn.conv import Conv2d, PatchEmbed
from cosim.nn.layers import ACTIVATIONS, Layer, Linear, Sequential
from cosim.nn.losses import CROSS_ENTROPY_OPS_PER_LOGIT, MSE_OPS_PER_ELEMENT
from cosim.nn.norm import (NORM_BACKWARD_OPS_PER_ELEMENT, NORM_FORWARD_OPS_PER_ELEMENT, BatchNorm2d,
                           LayerNorm)
from cosim.nn.records import HostWork, MvmOp
from cosim.nn.shape_ops import Flatten, GlobalAvgPool, MaxPool2d, PixelShuffle


class Namer:
    """Unique, stable matrix and layer names from the position in the tree ("conv3",
    "block2.conv1", "block4.shortcut.conv1", "block1.attn.qkv")."""

    def __init__(self):
        self.counts: Counter = Counter()

    def name(self, scope: str, kind: str, number_first: bool = True) -> str:
        self.counts[(scope, kind)] += 1
        n = self.counts[(scope, kind)]
        return f"{scope}{kind}{n}" if number_first or n > 1 else f"{scope}{kind}"


@dataclass(frozen=True)
class OpEntry:
    build: Callable        # (builder, node, scope) -> Layer
    work: Callable         # (walker, node, nonneg, first) -> (forward, backward, nonneg out)


# ----- shapes-only work ------------------------------------------------------------------------
@dataclass
class ShapeMatrix:
    """A weight matrix known only by its tiling; stands in for an AnalogMatrix on the Chip."""

    tile_map: TileMap

    @property
    def name(self) -> str:
        return self.tile_map.name

    @property
    def weights(self) -> int:
        return self.tile_map.weights


@dataclass
class StepWork:
    """The records of one step: forward, loss, backward (execution order), plus the matrices."""

    matrices: dict[str, ShapeMatrix] = field(default_factory=dict)
    forward: list = field(default_factory=list)
    backward: list = field(default_factory=list)
    loss: HostWork = HostWork("loss")
    host_params: int = 0           # digital parameters (biases, norm scales, tokens)

    @property
    def weights(self) -> int:
        return sum(m.weights for m in self.matrices.values())

    @property
    def records(self) -> list:
        return self.forward + [self.loss] + self.backward


class Walker:
    """Collects each node's records; `digital` puts every product on the host (the ideal rule)."""

    def __init__(self, batch: int, hw, load_per_cell_step: float, digital: bool, backward_on_host: bool):
        self.batch, self.hw, self.digital, self.backward_on_host = batch, hw, digital, backward_on_host
        # Σ a²·(G⁺+G⁻) per driven cell and input step (S): bit density × mean pair conductance.
        self.load_per_cell_step = load_per_cell_step
        self.names = Namer()
        self.out = StepWork()

    def walk(self, node: Node, nonneg: bool, first: bool, scope: str = "") -> tuple[list, list, bool]:
        """(forward records, backward records in execution order, output non-negative)."""
        return op_entry(node.op).work(self, node, nonneg, first, scope)

    def elements(self, node: Node) -> tuple[int, int]:
        """Input and output elements of `node` over the batch."""
        return self.batch * math.prod(node.in_shape), self.batch * math.prod(node.out_shape)

    def matrix(self, name: str, rows: int, cols: int) -> ShapeMatrix:
        m = ShapeMatrix(TileMap.of(name, (rows, cols), self.hw))
        self.out.matrices[name] = m
        return m

    def product(self, m: ShapeMatrix, direction: str, vectors: int, phases: int,
                input_values: int | None = None):
        """One matrix product over `vectors` inputs: a tile MVM, or host MACs when digital."""
        if self.digital or (direction == "backward" and self.backward_on_host):
            return HostWork(f"{direction}_matmul", float(vectors * m.weights))
        slices = self.hw.dac.slices if self.hw.dac.bits is not None else 1
        rows, cols = m.tile_map.lines(direction)
        steps = vectors * slices       # phases split each element's code, they do not add drive
        load = np.outer(rows, cols) * steps * self.load_per_cell_step
        t = m.tile_map
        in_f, out_f = (t.out_features, t.in_features) if direction == "backward" else (t.in_features, t.out_features)
        return MvmOp(m.name, direction, vectors, phases, slices, rows, cols, load, in_f, out_f, input_values)

    def linear(self, name, rows, n_in, n_out, bias, nonneg, input_grad, col2im=False, feature_map=None):
        """A weight matrix over `rows` input vectors: forward MVM, host weight gradient and bias,
        and the transposed MVM when the input gradient is needed (plus col2im's scatter-adds)."""
        m = self.matrix(name, n_in, n_out)
        fwd = [self.product(m, "forward", rows, 1 if nonneg else 2, feature_map)]
        bwd = [host("weight_gradient", macs=rows * n_in * n_out)]
        if bias:
            fwd.append(host("forward", ops=rows * n_out))
            bwd.append(host("backward", ops=rows * n_out))
            self.out.host_params += n_out
        if input_grad:
            bwd.append(self.product(m, "backward", rows, 2))
            if col2im:
                bwd.append(host("backward", ops=rows * n_in))
        return fwd, bwd


def host(phase: str, macs: float = 0.0, ops: float = 0.0) -> HostWork:
    return HostWork(phase, float(macs), float(ops))


def loss_work(arch: Arch, batch: int) -> HostWork:
    per_element = CROSS_ENTROPY_OPS_PER_LOGIT if arch.loss == "cross_entropy" else MSE_OPS_PER_ELEMENT
    return host("loss", ops=per_element * batch * math.prod(arch.output_shape))


def step_work(arch: Arch, batch: int, hw, bit_density: float, mean_pair_conductance: float,
              digital: bool = False, backward_on_host: bool = False,
              input_nonnegative: bool = False) -> StepWork:
    """Records of one training step of `arch` at `batch` from shapes alone (the network input is
    data: no input gradient is computed for it, as in the training core). `input_nonnegative`:
    the data is never negative (WorkloadSpec.input_nonnegative), so the first layer drives one
    input phase."""
    walker = Walker(batch, hw, bit_density * mean_pair_conductance, digital, backward_on_host)
    walker.out.forward, walker.out.backward, _ = walker.walk(arch.root, input_nonnegative, True)
    walker.out.loss = loss_work(arch, batch)
    return walker.out


# ----- per op: layer and work --------------------------------------------------------------------
def _sequential_work(w: Walker, node, nonneg, first, scope):
    fwd, bwd = [], []
    for i, child in enumerate(node.children):
        f, b, nonneg = w.walk(child, nonneg, first and i == 0, scope)
        fwd += f
        bwd = b + bwd
    return fwd, bwd, nonneg


def _residual_build(b, node, scope):
    block = b.name(scope, "block") + "."
    body, shortcut = node.children
    return Residual(b.build(body, block), b.build(shortcut, block + "shortcut."))


def _residual_work(w: Walker, node, nonneg, first, scope):
    n_in, n_out = w.elements(node)
    block = w.names.name(scope, "block") + "."
    body, shortcut = node.children
    fb, bb, nb = w.walk(body, nonneg, False, block)
    fs, bs, ns = w.walk(shortcut, nonneg, False, block + "shortcut.")
    return fb + fs + [host("forward", ops=n_out)], bb + bs + [host("backward", ops=n_in)], nb and ns


def _global_residual_work(w: Walker, node, nonneg, first, scope):
    n_in, n_out = w.elements(node)
    f, b, _ = w.walk(node.children[0], nonneg, first, scope)
    back = b + [host("backward", ops=n_out)]
    if not first:
        back.append(host("backward", ops=n_in))
    return f + [host("forward", ops=n_out)], back, False


def _nonnegative_activation_work(w: Walker, node, nonneg, first, scope):
    n_in, n_out = w.elements(node)
    return [host("forward", ops=n_in)], [host("backward", ops=n_out)], True


def _gelu_work(w: Walker, node, nonneg, first, scope):
    n_in, n_out = w.elements(node)
    return ([host("forward", ops=GELU_FORWARD_OPS_PER_ELEMENT * n_in)],
            [host("backward", ops=GELU_BACKWARD_OPS_PER_ELEMENT * n_out)], False)


def _norm_work(width_attr: str):
    def work(w: Walker, node, nonneg, first, scope):
        n_in, n_out = w.elements(node)
        w.out.host_params += 2 * node.attr(width_attr)
        return ([host("forward", ops=NORM_FORWARD_OPS_PER_ELEMENT * n_in)],
                [host("backward", ops=NORM_BACKWARD_OPS_PER_ELEMENT * n_out)], False)
    return work


def _global_avgpool_work(w: Walker, node, nonneg, first, scope):
    n_in, _ = w.elements(node)
    return [host("forward", ops=n_in)], [host("backward", ops=n_in)], nonneg


def _maxpool_work(w: Walker, node, nonneg, first, scope):
    _, n_out = w.elements(node)
    window = node.attr("kernel") ** 2
    return [host("forward", ops=window * n_out)], [host("backward", ops=n_out)], nonneg


def _no_work(w: Walker, node, nonneg, first, scope):
    """Views and copies the host does not count (flatten, pixel shuffle, taking a token)."""
    return [], [], nonneg


def _class_token_build(b, node, scope):
    tokens, dim = node.out_shape
    return ClassToken(tokens, dim, b.rng, b.name(scope, "cls", number_first=False))


def _class_token_work(w: Walker, node, nonneg, first, scope):
    _, n_out = w.elements(node)
    tokens, dim = node.out_shape
    w.out.host_params += dim + tokens * dim
    return [host("forward", ops=n_out)], [host("backward", ops=n_out)], False


def _linear_build(b, node, scope):
    name = b.name(scope, "linear")
    fan_in, fan_out = node.attr("in_features"), node.attr("out_features")
    return Linear(b.matrix(name, fan_in, fan_out), name, bias=node.attr("bias", True))


def _linear_work(w: Walker, node, nonneg, first, scope):
    rows = w.batch * math.prod(node.in_shape[:-1])
    f, b = w.linear(w.names.name(scope, "linear"), rows, node.attr("in_features"), node.attr("out_features"),
                    node.attr("bias", True), nonneg, not first)
    return f, b, False


def _conv_build(b, node, scope):
    name, k, c_in = b.name(scope, "conv"), node.attr("kernel"), node.attr("c_in")
    matrix = b.matrix(name, k * k * c_in, node.attr("c_out"), zero=node.attr("zero_init", False))
    return Conv2d(matrix, c_in, k, node.attr("stride", 1), node.attr("padding", 0), name,
                  bias=node.attr("bias", True))


def _im2col_work(w: Walker, node, nonneg, first, name, kernel, c_in, c_out, bias, positions):
    """A conv via im2col over `positions` output positions per sample; the host sends the
    feature map, not its k·k-times larger columns."""
    feature_map = min(w.batch * math.prod(node.in_shape), w.batch * positions * kernel * kernel * c_in)
    f, b = w.linear(name, w.batch * positions, kernel * kernel * c_in, c_out, bias, nonneg, not first,
                    col2im=True, feature_map=feature_map)
    return f, b, False


def _conv_work(w: Walker, node, nonneg, first, scope):
    return _im2col_work(w, node, nonneg, first, w.names.name(scope, "conv"), node.attr("kernel"),
                        node.attr("c_in"), node.attr("c_out"), node.attr("bias", True),
                        math.prod(node.out_shape[1:]))


def _patch_embed_build(b, node, scope):
    name, p, c_in = b.name(scope, "patch_embed", number_first=False), node.attr("patch"), node.attr("c_in")
    return PatchEmbed(b.matrix(name, p * p * c_in, node.attr("dim")), c_in, p, name)


def _patch_embed_work(w: Walker, node, nonneg, first, scope):
    """A conv with kernel = stride = patch."""
    return _im2col_work(w, node, nonneg, first, w.names.name(scope, "patch_embed", number_first=False),
                        node.attr("patch"), node.attr("c_in"), node.attr("dim"), True, node.out_shape[0])


def _attention_build(b, node, scope):
    name, dim = b.name(scope, "attn", number_first=False), node.attr("dim")
    return MultiHeadSelfAttention(b.matrix(f"{name}.qkv", dim, 3 * dim),
                                  b.matrix(f"{name}.proj", dim, dim), node.attr("heads"), name)


def _attention_work(w: Walker, node, nonneg, first, scope):
    """qkv and output projections on tiles; QKᵀ, softmax and AV on the host."""
    tokens, dim, heads = node.in_shape[0], node.attr("dim"), node.attr("heads")
    rows, name = w.batch * tokens, w.names.name(scope, "attn", number_first=False)
    scores = w.batch * heads * tokens * tokens
    core_macs = scores * (dim // heads)
    qkv_f, qkv_b = w.linear(f"{name}.qkv", rows, dim, 3 * dim, True, False, True)
    proj_f, proj_b = w.linear(f"{name}.proj", rows, dim, dim, True, False, True)
    fwd = qkv_f + [host("forward", 2 * core_macs, (SOFTMAX_FORWARD_OPS_PER_ELEMENT + 1) * scores)] + proj_f
    bwd = proj_b + [host("backward", 4 * core_macs, (SOFTMAX_BACKWARD_OPS_PER_ELEMENT + 1) * scores)] + qkv_b
    return fwd, bwd, False


OPS: dict[str, OpEntry] = {
    "sequential": OpEntry(lambda b, n, s: Sequential([b.build(c, s) for c in n.children]), _sequential_work),
    "residual": OpEntry(_residual_build, _residual_work),
    "global_residual": OpEntry(lambda b, n, s: GlobalResidual(b.build(n.children[0], s)), _global_residual_work),
    "relu": OpEntry(lambda b, n, s: ACTIVATIONS["relu"](), _nonnegative_activation_work),
    "sigmoid": OpEntry(lambda b, n, s: ACTIVATIONS["sigmoid"](), _nonnegative_activation_work),
    "gelu": OpEntry(lambda b, n, s: GELU(), _gelu_work),
    "batchnorm2d": OpEntry(lambda b, n, s: BatchNorm2d(n.attr("channels"), b.name(s, "bn")),
                           _norm_work("channels")),
    "layernorm": OpEntry(lambda b, n, s: LayerNorm(n.attr("dim"), b.name(s, "ln")), _norm_work("dim")),
    "global_avgpool": OpEntry(lambda b, n, s: GlobalAvgPool(), _global_avgpool_work),
    "maxpool2d": OpEntry(lambda b, n, s: MaxPool2d(n.attr("kernel"), n.attr("stride"), n.attr("padding", 0)),
                         _maxpool_work),
    "flatten": OpEntry(lambda b, n, s: Flatten(), _no_work),
    "pixel_shuffle": OpEntry(lambda b, n, s: PixelShuffle(n.attr("scale")), _no_work),
    "take_token": OpEntry(lambda b, n, s: TakeToken(n.attr("index", 0)), _no_work),
    "class_token": OpEntry(_class_token_build, _class_token_work),
    "linear": OpEntry(_linear_build, _linear_work),
    "conv2d": OpEntry(_conv_build, _conv_work),
    "patch_embed": OpEntry(_patch_embed_build, _patch_embed_work),
    "attention": OpEntry(_attention_build, _attention_work),
}


def op_entry(op: str) -> OpEntry:
    if op not in OPS:
        raise ValueError(f"no layer for op {op!r}; known: {', '.join(sorted(OPS))}")
    return OPS[op]
