"""GPU kernels of one training step, counted per node of an `Arch` (PyTorch eager, unfused).

Each op returns the `Kernel`s it launches for a whole batch: FLOPs, bytes read + written in
DRAM, and what kind of unit does the arithmetic. Counting follows what
`torch.utils.flop_counter` calls FLOPs for matmul and convolution (2 per multiply-accumulate,
input gradients skipped where autograd does not need them) so the totals can be checked
against measurements; element-wise FLOPs are added on top and reported separately.

Kinds: "conv" (cuDNN, may use TF32 tensor cores), "matmul" (cuBLAS GEMM/BMM), "vector"
(element-wise and reductions on CUDA cores), "optimizer" (multi-tensor-apply SGD update).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from cosim.arch import Arch, Node

PHASES = ("forward", "backward", "update")
TENSOR_KINDS = ("conv", "matmul")
# Element-wise FLOPs per element (forward, backward); rough op counts, they matter only for energy.
_ACTIVATION_FLOPS = {"relu": (1, 1), "sigmoid": (4, 3), "gelu": (8, 12)}
# PyTorch's multi_tensor_apply packs at most this many tensors into one launch (1 list; 2+ lists).
_FOREACH_DEPTH = {1: 110, 2: 64}
_FOREACH_ELEMENTS_PER_LAUNCH = 320 * 65536


@dataclass(frozen=True)
class Kernel:
    """One kernel launch. flops: floating-point operations; bytes: DRAM bytes read + written."""

    op: str
    phase: str
    kind: str
    flops: float
    bytes: float

    @property
    def is_tensor_op(self) -> bool:
        return self.kind in TENSOR_KINDS


class _Counter:
    """Collects kernels while walking the tree; `elem` is bytes per activation element."""

    def __init__(self, batch: int, elem: float, param_elem: float = 4.0):
        self.batch, self.elem, self.param_elem = batch, elem, param_elem
        self.kernels: list[Kernel] = []
        self.param_tensors: list[int] = []   # element count of every parameter tensor

    def k(self, op, phase, kind, flops, elements, param_elements=0.0):
        """Add a kernel moving `elements` activation elements and `param_elements` weights."""
        nbytes = elements * self.elem + param_elements * self.param_elem
        self.kernels.append(Kernel(op, phase, kind, float(flops), float(nbytes)))

    def params(self, *sizes: int):
        self.param_tensors.extend(s for s in sizes if s)


def _linear(c: _Counter, op: str, rows: int, n_in: int, n_out: int, bias: bool, needs_dx: bool):
    """GEMM y = x W^T + b over `rows` rows (batch x tokens)."""
    macs, w = rows * n_in * n_out, n_in * n_out
    c.k(op, "forward", "matmul", 2 * macs, rows * (n_in + n_out), w + n_out * bias)
    if needs_dx:
        c.k(op, "backward", "matmul", 2 * macs, rows * (n_out + n_in), w)
    c.k(op, "backward", "matmul", 2 * macs, rows * (n_out + n_in), w)
    if bias:
        c.k(op, "backward", "vector", rows * n_out, rows * n_out, n_out)
    c.params(w, n_out if bias else 0)


def _conv(c: _Counter, node: Node, needs_dx: bool):
    cin, cout, kernel = node.attr("c_in"), node.attr("c_out"), node.attr("kernel")
    x, y = c.batch * math.prod(node.in_shape), c.batch * math.prod(node.out_shape)
    w, bias = cout * cin * kernel * kernel, bool(node.attr("bias"))
    macs = c.batch * math.prod(node.out_shape[1:]) * cout * cin * kernel * kernel
    c.k("conv2d", "forward", "conv", 2 * macs, x + y, w)
    if bias:  # PyTorch adds the bias in a separate element-wise kernel
        c.k("conv2d", "forward", "vector", y, 2 * y, cout)
    if needs_dx:
        c.k("conv2d", "backward", "conv", 2 * macs, y + x, w)
    c.k("conv2d", "backward", "conv", 2 * macs, y + x, w)
    if bias:
        c.k("conv2d", "backward", "vector", y, y, cout)
    c.params(w, cout if bias else 0)


def _norm(c: _Counter, op: str, n: int, channels: int, needs_dx: bool):
    """Batch/layer norm: statistics + normalise forward; reduction + input gradient backward."""
    c.k(op, "forward", "vector", 2 * n, n, 2 * channels)
    c.k(op, "forward", "vector", 3 * n, 2 * n, 2 * channels)
    c.k(op, "backward", "vector", 3 * n, 2 * n, 2 * channels)
    if needs_dx:
        c.k(op, "backward", "vector", 5 * n, 3 * n, 2 * channels)
    c.params(channels, channels)


def _elementwise(c: _Counter, op: str, n: int, needs_dx: bool, flops=(1, 1), reads=1):
    c.k(op, "forward", "vector", flops[0] * n, (reads + 1) * n)
    if needs_dx:
        c.k(op, "backward", "vector", flops[1] * n, 3 * n)


def _attention(c: _Counter, node: Node, needs_dx: bool):
    """Unfused attention: qkv GEMM, QK^T and AV batched GEMMs, scale, softmax, projection."""
    tokens, dim, heads = node.in_shape[0], node.attr("dim"), node.attr("heads")
    rows, b = c.batch * tokens, c.batch
    scores = b * heads * tokens * tokens
    act = rows * dim
    product_flops = 2 * b * tokens * tokens * dim  # summed over heads
    _linear(c, "attention.qkv", rows, dim, 3 * dim, True, needs_dx)
    c.k("attention.split_heads", "forward", "vector", 0, 6 * act)
    c.k("attention.qk", "forward", "matmul", product_flops, 2 * act + scores)
    c.k("attention.scale", "forward", "vector", scores, 2 * scores)
    c.k("attention.softmax", "forward", "vector", 5 * scores, 2 * scores)
    c.k("attention.av", "forward", "matmul", product_flops, scores + 2 * act)
    c.k("attention.merge_heads", "forward", "vector", 0, 2 * act)
    c.k("attention.merge_heads", "backward", "vector", 0, 2 * act)
    for _ in range(2):  # d(attn) = dO V^T and dV = attn^T dO
        c.k("attention.av", "backward", "matmul", product_flops, scores + 2 * act)
    c.k("attention.softmax", "backward", "vector", 4 * scores, 3 * scores)
    c.k("attention.scale", "backward", "vector", scores, 2 * scores)
    for _ in range(2):  # dQ = dS K and dK = dS^T Q
        c.k("attention.qk", "backward", "matmul", product_flops, scores + 2 * act)
    c.k("attention.split_heads", "backward", "vector", 0, 6 * act)
    _linear(c, "attention.proj", rows, dim, dim, True, True)


def _patch_embed(c: _Counter, node: Node, needs_dx: bool):
    patch, cin, dim = node.attr("patch"), node.attr("c_in"), node.attr("dim")
    tokens = node.out_shape[0]
    x, y = c.batch * math.prod(node.in_shape), c.batch * tokens * dim
    w, macs = dim * cin * patch * patch, c.batch * tokens * dim * cin * patch * patch
    c.k("patch_embed", "forward", "conv", 2 * macs, x + y, w)
    c.k("patch_embed", "forward", "vector", y, 2 * y, dim)          # bias
    c.k("patch_embed", "forward", "vector", 0, 2 * y)               # flatten + transpose copy
    c.k("patch_embed", "backward", "vector", 0, 2 * y)
    if needs_dx:
        c.k("patch_embed", "backward", "conv", 2 * macs, x + y, w)
    c.k("patch_embed", "backward", "conv", 2 * macs, x + y, w)
    c.k("patch_embed", "backward", "vector", y, y, dim)
    c.params(w, dim)


def _class_token(c: _Counter, node: Node):
    tokens, dim = node.out_shape
    y = c.batch * tokens * dim
    c.k("class_token", "forward", "vector", 0, 2 * y, dim)           # concatenate
    c.k("class_token", "forward", "vector", y, 2 * y, tokens * dim)  # + position embedding
    c.k("class_token", "backward", "vector", y, y, tokens * dim)     # position-embedding grad
    c.k("class_token", "backward", "vector", c.batch * dim, c.batch * dim, dim)  # token grad
    c.k("class_token", "backward", "vector", 0, 2 * y)               # slice off the token grad
    c.params(dim, tokens * dim)


def _walk(c: _Counter, node: Node, needs_dx: bool) -> bool:
    """Count `node`; needs_dx: its input needs a gradient. Returns the same for its output."""
    if node.op not in GPU_RULES:
        raise ValueError(f"GPU model: no cost rule for op {node.op!r}")
    return GPU_RULES[node.op](c, node, needs_dx)


def _elements(c: _Counter, node: Node) -> tuple[int, int]:
    return c.batch * math.prod(node.in_shape), c.batch * math.prod(node.out_shape)


def _sequential(c: _Counter, node: Node, needs_dx: bool) -> bool:
    for child in node.children:
        needs_dx = _walk(c, child, needs_dx)
    return needs_dx


def _residual(c: _Counter, node: Node, needs_dx: bool) -> bool:
    n_in, n_out = _elements(c, node)
    body, shortcut = node.children
    body_grad = _walk(c, body, needs_dx)
    short_grad = _walk(c, shortcut, needs_dx)
    c.k("residual", "forward", "vector", n_out, 3 * n_out)
    if needs_dx:  # the two branch gradients meet again at the block input
        c.k("residual", "backward", "vector", n_in, 3 * n_in)
    return body_grad or short_grad or needs_dx


def _global_residual(c: _Counter, node: Node, needs_dx: bool) -> bool:
    _, n_out = _elements(c, node)
    _walk(c, node.children[0], needs_dx)
    c.k("global_residual", "forward", "vector", n_out, 3 * n_out)
    c.k("global_residual", "backward", "vector", n_out, 2 * n_out)  # body grad = -grad
    return True


def _linear_node(c: _Counter, node: Node, needs_dx: bool) -> bool:
    rows = c.batch * math.prod(node.in_shape[:-1])
    _linear(c, "linear", rows, node.attr("in_features"), node.attr("out_features"),
            bool(node.attr("bias")), needs_dx)
    return True


def _norm_node(width_attr: str):
    def rule(c: _Counter, node: Node, needs_dx: bool) -> bool:
        _norm(c, node.op, _elements(c, node)[0], node.attr(width_attr), needs_dx)
        return True
    return rule


def _activation(c: _Counter, node: Node, needs_dx: bool) -> bool:
    _elementwise(c, node.op, _elements(c, node)[0], needs_dx, _ACTIVATION_FLOPS[node.op])
    return needs_dx


def _shape_op(c: _Counter, node: Node, needs_dx: bool) -> bool:
    """Parameter-free ops that reduce or move data."""
    op = node.op
    n_in, n_out = _elements(c, node)
    if op == "global_avgpool":
        c.k(op, "forward", "vector", n_in, n_in + n_out)
        if needs_dx:
            c.k(op, "backward", "vector", n_in, n_out + n_in)
    elif op == "maxpool2d":
        window = node.attr("kernel") ** 2
        c.k(op, "forward", "vector", n_out * window, n_in + 2 * n_out)  # values + indices
        if needs_dx:
            c.k(op, "backward", "vector", 0, n_in)                      # zero-fill dx
            c.k(op, "backward", "vector", n_out, 3 * n_out)             # scatter
    elif op == "pixel_shuffle":
        c.k(op, "forward", "vector", 0, 2 * n_in)  # a permuting copy, both ways
        if needs_dx:
            c.k(op, "backward", "vector", 0, 2 * n_in)
    elif op == "take_token":
        if needs_dx:  # gradient of a slice: zero-fill, then copy the token's gradient in
            c.k(op, "backward", "vector", 0, n_in)
            c.k(op, "backward", "vector", 0, 2 * n_out)
    return needs_dx   # flatten: a view, no kernel


def _with_params(count):
    """A rule for an op with parameters: its kernels, and its output needs a gradient."""
    def rule(c: _Counter, node: Node, needs_dx: bool) -> bool:
        count(c, node, needs_dx)
        return True
    return rule


# Kernel formulas per op of cosim.nn.work.OPS (tests/test_gpu_ops.py checks every op has one).
GPU_RULES = {
    "sequential": _sequential, "residual": _residual, "global_residual": _global_residual,
    "linear": _linear_node, "conv2d": _with_params(_conv),
    "batchnorm2d": _norm_node("channels"), "layernorm": _norm_node("dim"),
    **{op: _activation for op in _ACTIVATION_FLOPS},
    "attention": _with_params(_attention), "patch_embed": _with_params(_patch_embed),
    "class_token": _with_params(lambda c, node, needs_dx: _class_token(c, node)),
    **{op: _shape_op for op in ("flatten", "global_avgpool", "maxpool2d", "pixel_shuffle", "take_token")},
}


def _loss(c: _Counter, arch: Arch):
    n = c.batch * math.prod(arch.output_shape)
    if arch.loss == "cross_entropy":
        c.k("loss", "forward", "vector", 4 * n, 2 * n)      # log_softmax
        c.k("loss", "forward", "vector", c.batch, n)        # nll gather + mean
        c.k("loss", "backward", "vector", 0, n)             # nll backward: zero-fill
        c.k("loss", "backward", "vector", c.batch, c.batch)  # scatter -1/B
        c.k("loss", "backward", "vector", 3 * n, 3 * n)     # log_softmax backward
    elif arch.loss == "mse":
        c.k("loss", "forward", "vector", 3 * n, 2 * n)
        c.k("loss", "backward", "vector", 3 * n, 3 * n)
    else:
        raise ValueError(f"GPU model: no cost rule for loss {arch.loss!r}")


def _foreach_launches(tensors: list[int], lists: int) -> int:
    by_depth = math.ceil(len(tensors) / _FOREACH_DEPTH[min(lists, 2)])
    by_size = math.ceil(sum(tensors) / _FOREACH_ELEMENTS_PER_LAUNCH)
    return max(by_depth, by_size)


def _sgd_momentum(c: _Counter):
    """torch.optim.SGD(momentum, foreach): buf *= m; buf += g; p -= lr * buf (grads set to None)."""
    total = sum(c.param_tensors)
    for lists, flops, accesses in ((1, 1, 2), (2, 1, 3), (2, 2, 3)):
        launches = _foreach_launches(c.param_tensors, lists)
        for _ in range(launches):
            c.k("sgd_momentum", "update", "optimizer", flops * total / launches, 0,
                accesses * total / launches)


def step_kernels(arch: Arch, batch_size: int, activation_bytes: float = 4.0) -> list[Kernel]:
    """Every kernel of one training step (forward, loss, backward, SGD-momentum update)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    counter = _Counter(batch_size, activation_bytes)
    _walk(counter, arch.root, needs_dx=False)  # the input batch needs no gradient
    _loss(counter, arch)
    _sgd_momentum(counter)
    return counter.kernels


def parameter_count(arch: Arch) -> int:
    counter = _Counter(1, 4.0)
    _walk(counter, arch.root, needs_dx=False)
    return sum(counter.param_tensors)
