"""The hardware work of one training step (or one inference) from layer shapes alone.

Walks an `Arch` and yields, in execution order, the entries the training core's tape would
record: tile MVMs (as `MvmOp`s with statistical conductance loads) and host work (macs, ops).
Host counts mirror what each numpy layer adds to its `host_ops` (cosim/nn), so a shapes-only
estimate and a real training step of the same network agree on the digital work; the tests
check that on small networks. Nothing here runs numerics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cosim.devices.tile_map import TileMap
from cosim.nn.analog import MvmOp
from cosim.nn.attention import SOFTMAX_BACKWARD_OPS_PER_ELEMENT, SOFTMAX_FORWARD_OPS_PER_ELEMENT
from cosim.arch import Arch, Node
from cosim.nn.blocks import GELU_BACKWARD_OPS_PER_ELEMENT, GELU_FORWARD_OPS_PER_ELEMENT
from cosim.nn.losses import CROSS_ENTROPY_OPS_PER_LOGIT, MSE_OPS_PER_ELEMENT
from cosim.nn.norm import NORM_BACKWARD_OPS_PER_ELEMENT, NORM_FORWARD_OPS_PER_ELEMENT

# Ops whose output is never negative, so the next MVM needs only a positive input phase.
_NONNEGATIVE_OUTPUT = {"relu", "sigmoid"}
# Ops that pass their input's sign through unchanged.
_SIGN_PRESERVING = {"maxpool2d", "global_avgpool", "flatten", "pixel_shuffle", "take_token"}


@dataclass
class ShapeMatrix:
    """A weight matrix known only by its tiling; stands in for an AnalogMatrix on the Chip."""

    tile_map: TileMap

    @property
    def name(self) -> str:
        return self.tile_map.name

    @property
    def in_features(self) -> int:
        return self.tile_map.in_features

    @property
    def out_features(self) -> int:
        return self.tile_map.out_features

    @property
    def tile_grid(self) -> tuple[int, int]:
        return self.tile_map.grid

    @property
    def weights(self) -> int:
        return self.tile_map.weights

    def tile_shapes(self) -> list[tuple[int, int]]:
        return self.tile_map.tile_shapes()


@dataclass
class StepShapes:
    """Entries of one step: ("mvm", MvmOp) or ("host", op, macs, ops), plus the matrices."""

    matrices: dict[str, ShapeMatrix] = field(default_factory=dict)
    forward: list[tuple] = field(default_factory=list)
    backward: list[tuple] = field(default_factory=list)
    loss: tuple = ("host", "loss", 0.0, 0.0)
    host_params: int = 0           # digital parameters (biases, norm scales, tokens)

    @property
    def weights(self) -> int:
        return sum(m.weights for m in self.matrices.values())


class _Walker:
    """Emits entries per node; `digital` puts every product on the host (the ideal rule)."""

    def __init__(self, batch: int, hw, bit_density: float, mean_pair_conductance: float,
                 digital: bool, backward_on_host: bool):
        self.batch, self.hw, self.digital = batch, hw, digital
        self.backward_on_host = backward_on_host
        # Σ a²·(G⁺+G⁻) per driven cell and input step: bit density × mean pair conductance (S).
        self.load_per_cell_step = bit_density * mean_pair_conductance
        self.out = StepShapes()
        self.counts: dict[str, int] = {}

    # ----- helpers ------------------------------------------------------------------------------
    def _name(self, kind: str) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"{kind}{self.counts[kind]}"

    def _matrix(self, name: str, rows: int, cols: int) -> ShapeMatrix:
        m = ShapeMatrix(TileMap.of(name, (rows, cols), self.hw))
        self.out.matrices[name] = m
        return m

    def _product(self, m: ShapeMatrix, direction: str, vectors: int, phases: int,
                 input_values: int | None = None) -> tuple:
        """One matrix product over `vectors` inputs: a tile MVM, or host MACs when digital."""
        on_host = self.digital or (direction == "backward" and self.backward_on_host)
        if on_host:
            return ("host", f"{direction}_matmul", float(vectors * m.weights), 0.0)
        slices = self.hw.dac.slices if self.hw.dac.bits is not None else 1
        rows, cols = m.tile_map.lines(direction)
        steps = vectors * slices       # phases split each element's code, they do not add drive
        load = np.outer(rows, cols) * steps * self.load_per_cell_step
        in_f, out_f = (m.out_features, m.in_features) if direction == "backward" else (m.in_features, m.out_features)
        return ("mvm", MvmOp(m.name, direction, vectors, phases, slices, rows, cols, load, in_f, out_f,
                             input_values))

    @staticmethod
    def _host(phase: str, macs: float = 0.0, ops: float = 0.0) -> tuple:
        return ("host", phase, float(macs), float(ops))

    # ----- nodes -------------------------------------------------------------------------------
    def walk(self, node: Node, nonneg: bool, first: bool) -> tuple[list, list, bool]:
        """(forward entries, backward entries in execution order, output non-negative)."""
        op = node.op
        n_in, n_out = self.batch * math.prod(node.in_shape), self.batch * math.prod(node.out_shape)
        if op == "sequential":
            fwd, bwd = [], []
            for i, child in enumerate(node.children):
                f, b, nonneg = self.walk(child, nonneg, first and i == 0)
                fwd += f
                bwd = b + bwd
            return fwd, bwd, nonneg
        if op == "residual":
            body, shortcut = node.children
            fb, bb, nb = self.walk(body, nonneg, False)
            fs, bs, ns = self.walk(shortcut, nonneg, False)
            return (fb + fs + [self._host("forward", ops=n_out)],
                    bb + bs + [self._host("backward", ops=n_in)], nb and ns)
        if op == "global_residual":
            f, b, _ = self.walk(node.children[0], nonneg, first)
            back = b + [self._host("backward", ops=n_out)]
            if not first:
                back.append(self._host("backward", ops=n_in))
            return f + [self._host("forward", ops=n_out)], back, False
        if op in ("relu", "sigmoid"):
            return [self._host("forward", ops=n_in)], [self._host("backward", ops=n_out)], True
        if op == "gelu":
            return ([self._host("forward", ops=GELU_FORWARD_OPS_PER_ELEMENT * n_in)],
                    [self._host("backward", ops=GELU_BACKWARD_OPS_PER_ELEMENT * n_out)], False)
        if op in ("batchnorm2d", "layernorm"):
            self.out.host_params += 2 * (node.attr("channels") or node.attr("dim"))
            return ([self._host("forward", ops=NORM_FORWARD_OPS_PER_ELEMENT * n_in)],
                    [self._host("backward", ops=NORM_BACKWARD_OPS_PER_ELEMENT * n_out)], False)
        if op == "global_avgpool":
            return [self._host("forward", ops=n_in)], [self._host("backward", ops=n_in)], nonneg
        if op == "maxpool2d":
            window = node.attr("kernel") ** 2
            return [self._host("forward", ops=window * n_out)], [self._host("backward", ops=n_out)], nonneg
        if op in ("flatten", "pixel_shuffle", "take_token"):
            return [], [], nonneg
        if op == "class_token":
            tokens, dim = node.out_shape
            self.out.host_params += dim + tokens * dim
            return [self._host("forward", ops=n_out)], [self._host("backward", ops=n_out)], False
        if op == "linear":
            rows = self.batch * math.prod(node.in_shape[:-1])
            f, b = self._linear(self._name("linear"), rows, node.attr("in_features"),
                                node.attr("out_features"), node.attr("bias", True), nonneg, not first)
            return f, b, False
        if op in ("conv2d", "patch_embed"):
            return (*self._conv(node, nonneg, not first), False)
        if op == "attention":
            return (*self._attention(node), False)
        raise ValueError(f"cost-only mode has no shape rule for op {op!r}")

    def _linear(self, name, rows, n_in, n_out, bias, nonneg, input_grad, col2im=False, feature_map=None):
        """A weight matrix over `rows` input vectors: forward MVM, host weight gradient and bias,
        and the transposed MVM when the input gradient is needed (plus col2im's scatter-adds)."""
        m = self._matrix(name, n_in, n_out)
        fwd = [self._product(m, "forward", rows, 1 if nonneg else 2, feature_map)]
        bwd = [self._host("weight_gradient", macs=rows * n_in * n_out)]
        if bias:
            fwd.append(self._host("forward", ops=rows * n_out))
            bwd.append(self._host("backward", ops=rows * n_out))
            self.out.host_params += n_out
        if input_grad:
            bwd.append(self._product(m, "backward", rows, 2))
            if col2im:
                bwd.append(self._host("backward", ops=rows * n_in))
        return fwd, bwd

    def _conv(self, node: Node, nonneg: bool, input_grad: bool):
        """Conv2d via im2col (patch embedding is a conv with kernel = stride = patch)."""
        if node.op == "patch_embed":
            kernel, c_in, c_out, bias = node.attr("patch"), node.attr("c_in"), node.attr("dim"), True
            positions, name = node.out_shape[0], self._name("patch_embed")
        else:
            kernel, c_in, c_out = node.attr("kernel"), node.attr("c_in"), node.attr("c_out")
            bias, positions, name = node.attr("bias", True), math.prod(node.out_shape[1:]), self._name("conv")
        return self._linear(name, self.batch * positions, kernel * kernel * c_in, c_out, bias, nonneg,
                            input_grad, col2im=True,
                            feature_map=min(self.batch * math.prod(node.in_shape),
                                            self.batch * positions * kernel * kernel * c_in))

    def _attention(self, node: Node):
        """qkv and output projections on tiles; QKᵀ, softmax and AV on the host."""
        tokens, dim, heads = node.in_shape[0], node.attr("dim"), node.attr("heads")
        rows, name = self.batch * tokens, self._name("attn")
        scores = self.batch * heads * tokens * tokens
        core_macs = scores * (dim // heads)
        qkv_f, qkv_b = self._linear(f"{name}.qkv", rows, dim, 3 * dim, True, False, True)
        proj_f, proj_b = self._linear(f"{name}.proj", rows, dim, dim, True, False, True)
        fwd = qkv_f + [self._host("forward", 2 * core_macs, (SOFTMAX_FORWARD_OPS_PER_ELEMENT + 1) * scores)] + proj_f
        bwd = proj_b + [self._host("backward", 4 * core_macs, (SOFTMAX_BACKWARD_OPS_PER_ELEMENT + 1) * scores)] + qkv_b
        return fwd, bwd


def loss_entry(arch: Arch, batch: int) -> tuple:
    per_element = CROSS_ENTROPY_OPS_PER_LOGIT if arch.loss == "cross_entropy" else MSE_OPS_PER_ELEMENT
    return ("host", "loss", 0.0, float(per_element * batch * math.prod(arch.output_shape)))


def step_shapes(arch: Arch, batch: int, hw, bit_density: float, mean_pair_conductance: float,
                digital: bool = False, backward_on_host: bool = False,
                input_nonnegative: bool = False) -> StepShapes:
    """Entries of one training step of `arch` at `batch` (the network input is data: no input
    gradient is computed for it, as in the training core). `input_nonnegative`: the data is
    never negative (WorkloadSpec.input_nonnegative), so the first layer drives one input phase."""
    walker = _Walker(batch, hw, bit_density, mean_pair_conductance, digital, backward_on_host)
    walker.out.forward, walker.out.backward, _ = walker.walk(arch.root, input_nonnegative, True)
    walker.out.loss = loss_entry(arch, batch)
    return walker.out
