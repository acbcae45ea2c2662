"""Named network architectures as shape descriptors, shared by the training core, the cost-only
mode and the GPU cost model.

An `Arch` is a tree of `Node`s. Every node knows its per-sample input and output shape
(channels-first: (C, H, W) for images, (T, D) for token sequences, (F,) for vectors), so a
consumer can count FLOPs, bytes, tiles or build numerics without re-deriving shapes.

Ops (attrs in brackets):
  linear [in_features, out_features, bias]         conv2d [c_in, c_out, kernel, stride, padding, bias]
  relu, sigmoid, gelu, flatten                      batchnorm2d [channels], layernorm [dim]
  global_avgpool, maxpool2d [kernel, stride]        pixel_shuffle [scale]
  attention [dim, heads, tokens]: qkv matrix dim x 3dim, projection dim x dim, softmax(QK^T)V on host
  patch_embed [patch, c_in, dim]: conv with kernel = stride = patch, then tokens of width dim
  class_token [dim]: prepend a learned token and add learned position embeddings
  take_token [index]: keep one token (the class token)       sequential: children in order
  residual: children = (body, shortcut); output = body(x) + shortcut(x) (shortcut may be empty)
  global_residual: children = (body,); output = x - body(x) (DnCNN predicts the noise)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Node:
    op: str
    in_shape: Shape
    out_shape: Shape
    attrs: tuple[tuple[str, object], ...] = ()
    children: tuple["Node", ...] = ()

    def attr(self, name: str, default=None):
        return dict(self.attrs).get(name, default)

    def walk(self) -> Iterator["Node"]:
        """Every node of the subtree, parents before children."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class Arch:
    """A named network: its input shape, layer tree and loss ("cross_entropy" or "mse")."""

    name: str
    input_shape: Shape
    root: Node
    loss: str
    classes: int | None = None
    params: tuple[tuple[str, object], ...] = field(default=())

    @property
    def output_shape(self) -> Shape:
        return self.root.out_shape

    def nodes(self) -> Iterator[Node]:
        return self.root.walk()


def _node(op: str, in_shape: Shape, out_shape: Shape | None = None, children=(), **attrs) -> Node:
    return Node(op, tuple(in_shape), tuple(out_shape if out_shape is not None else in_shape),
                tuple(sorted(attrs.items())), tuple(children))


def _seq(nodes: list[Node], in_shape: Shape) -> Node:
    out = nodes[-1].out_shape if nodes else in_shape
    return _node("sequential", in_shape, out, children=nodes)


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class _Builder:
    """Appends nodes while tracking the current shape."""

    def __init__(self, shape: Shape):
        self.shape, self.nodes = tuple(shape), []

    def add(self, node: Node) -> "_Builder":
        self.nodes.append(node)
        self.shape = node.out_shape
        return self

    def act(self, op: str) -> "_Builder":
        return self.add(_node(op, self.shape))

    def linear(self, out_features: int, bias: bool = True) -> "_Builder":
        *lead, f = self.shape
        return self.add(_node("linear", self.shape, (*lead, out_features), in_features=f,
                              out_features=out_features, bias=bias))

    def conv(self, c_out: int, kernel: int, stride: int = 1, padding: int | None = None,
             bias: bool = True, zero_init: bool = False) -> "_Builder":
        c, h, w = self.shape
        pad = kernel // 2 if padding is None else padding
        out = (c_out, _conv_out(h, kernel, stride, pad), _conv_out(w, kernel, stride, pad))
        extra = {"zero_init": True} if zero_init else {}
        return self.add(_node("conv2d", self.shape, out, c_in=c, c_out=c_out, kernel=kernel,
                              stride=stride, padding=pad, bias=bias, **extra))

    def batchnorm(self) -> "_Builder":
        return self.add(_node("batchnorm2d", self.shape, channels=self.shape[0]))

    def seq(self) -> Node:
        return _seq(self.nodes, self.nodes[0].in_shape if self.nodes else self.shape)


def mlp(widths: list[int], activation: str = "sigmoid") -> Arch:
    """Fully connected network; widths include input and output, e.g. [64, 64, 10]."""
    b = _Builder((widths[0],))
    for i, width in enumerate(widths[1:]):
        b.linear(width)
        if i < len(widths) - 2:
            b.act(activation)
    return Arch(f"mlp_{'_'.join(map(str, widths))}", (widths[0],), b.seq(), "cross_entropy",
                classes=widths[-1], params=(("widths", tuple(widths)), ("activation", activation)))


def dncnn(depth: int = 17, channels: int = 64, batch_norm: bool = True, image_channels: int = 1,
          patch: int = 40, zero_init_last: bool = False) -> Arch:
    """DnCNN (Zhang et al. 2017): conv+ReLU, (depth-2) x conv(+BN)+ReLU, conv; output x - net(x).
    `zero_init_last` starts the noise estimate at zero, so training starts from the identity
    (the zero-init-residual practice of Goyal et al. 2017) instead of a random residual."""
    b = _Builder((image_channels, patch, patch))
    b.conv(channels, 3).act("relu")
    for _ in range(depth - 2):
        b.conv(channels, 3, bias=not batch_norm)
        if batch_norm:
            b.batchnorm()
        b.act("relu")
    b.conv(image_channels, 3, zero_init=zero_init_last)
    body = b.seq()
    root = _node("global_residual", body.in_shape, body.out_shape, children=(body,))
    return Arch(f"dncnn{depth}_{channels}", body.in_shape, root, "mse",
                params=(("depth", depth), ("channels", channels), ("batch_norm", batch_norm)))


def espcn(widths: tuple[int, int] = (64, 32), scale: int = 2, image_channels: int = 1,
          patch: int = 20) -> Arch:
    """ESPCN-style super-resolution: conv5x5 -> conv3x3 -> conv3x3 -> pixel shuffle."""
    b = _Builder((image_channels, patch, patch))
    b.conv(widths[0], 5).act("relu").conv(widths[1], 3).act("relu")
    b.conv(image_channels * scale * scale, 3)
    c, h, w = b.shape
    b.add(_node("pixel_shuffle", b.shape, (c // (scale * scale), h * scale, w * scale), scale=scale))
    return Arch(f"espcn_x{scale}_{widths[0]}_{widths[1]}", (image_channels, patch, patch), b.seq(),
                "mse", params=(("widths", tuple(widths)), ("scale", scale)))


_RESNET_BLOCKS = {8: ("basic", [1, 1, 1]), 14: ("basic", [2, 2, 2]), 20: ("basic", [3, 3, 3]),
                  18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]),
                  50: ("bottleneck", [3, 4, 6, 3])}


def _basic_block(shape: Shape, width: int, stride: int) -> Node:
    body = _Builder(shape)
    body.conv(width, 3, stride, bias=False).batchnorm().act("relu")
    body.conv(width, 3, 1, bias=False).batchnorm()
    return _residual(shape, body.seq(), width, stride)


def _bottleneck_block(shape: Shape, width: int, stride: int) -> Node:
    body = _Builder(shape)
    body.conv(width, 1, 1, 0, bias=False).batchnorm().act("relu")
    body.conv(width, 3, stride, bias=False).batchnorm().act("relu")
    body.conv(width * 4, 1, 1, 0, bias=False).batchnorm()
    return _residual(shape, body.seq(), width * 4, stride)


def _residual(shape: Shape, body: Node, c_out: int, stride: int) -> Node:
    shortcut = _Builder(shape)
    if stride != 1 or shape[0] != c_out:
        shortcut.conv(c_out, 1, stride, 0, bias=False).batchnorm()
    short = shortcut.seq()
    block = _node("residual", shape, body.out_shape, children=(body, short))
    return _seq([block, _node("relu", body.out_shape)], shape)


def resnet(depth: int = 18, dataset: str = "cifar", classes: int = 10, base_width: int = 64,
           image_size: int | None = None, image_channels: int = 3) -> Arch:
    """ResNet. depth 8/14/20 are CIFAR 3-stage nets (widths base, 2base, 4base); 18/34/50 are the
    4-stage ImageNet family. dataset "cifar" uses a 3x3 stride-1 stem and no max-pool (32 px),
    "imagenet" a 7x7 stride-2 stem and 3x3 max-pool (224 px)."""
    kind, blocks = _RESNET_BLOCKS[depth]
    size = image_size or (32 if dataset == "cifar" else 224)
    b = _Builder((image_channels, size, size))
    if dataset == "cifar":
        b.conv(base_width, 3, 1, bias=False).batchnorm().act("relu")
    else:
        b.conv(base_width, 7, 2, 3, bias=False).batchnorm().act("relu")
        c, h, w = b.shape
        out = (c, _conv_out(h, 3, 2, 1), _conv_out(w, 3, 2, 1))
        b.add(_node("maxpool2d", b.shape, out, kernel=3, stride=2, padding=1))
    make = _basic_block if kind == "basic" else _bottleneck_block
    for stage, count in enumerate(blocks):
        width = base_width * 2 ** stage
        for i in range(count):
            b.add(make(b.shape, width, 2 if (i == 0 and stage > 0) else 1))
    b.add(_node("global_avgpool", b.shape, (b.shape[0],)))
    b.linear(classes)
    return Arch(f"resnet{depth}_{dataset}", (image_channels, size, size), b.seq(), "cross_entropy",
                classes=classes, params=(("depth", depth), ("dataset", dataset)))


def vit(image_size: int = 224, patch: int = 16, dim: int = 192, depth: int = 12, heads: int = 3,
        mlp_ratio: float = 4.0, classes: int = 1000, image_channels: int = 3) -> Arch:
    """Vision Transformer (pre-norm). ViT-Tiny/16: dim 192, heads 3; ViT-B/16: dim 768, heads 12."""
    tokens = (image_size // patch) ** 2 + 1
    b = _Builder((image_channels, image_size, image_size))
    b.add(_node("patch_embed", b.shape, (tokens - 1, dim), patch=patch, c_in=image_channels, dim=dim))
    b.add(_node("class_token", b.shape, (tokens, dim), dim=dim))
    hidden = int(dim * mlp_ratio)
    for _ in range(depth):
        attn = _Builder((tokens, dim))
        attn.add(_node("layernorm", (tokens, dim), dim=dim))
        attn.add(_node("attention", (tokens, dim), dim=dim, heads=heads, tokens=tokens))
        b.add(_node("residual", (tokens, dim), (tokens, dim), children=(attn.seq(), _seq([], (tokens, dim)))))
        ffn = _Builder((tokens, dim))
        ffn.add(_node("layernorm", (tokens, dim), dim=dim))
        ffn.linear(hidden).act("gelu").linear(dim)
        b.add(_node("residual", (tokens, dim), (tokens, dim), children=(ffn.seq(), _seq([], (tokens, dim)))))
    b.add(_node("layernorm", b.shape, dim=dim))
    b.add(_node("take_token", b.shape, (dim,), index=0))
    b.linear(classes)
    return Arch(f"vit_p{patch}_d{dim}_l{depth}", (image_channels, image_size, image_size), b.seq(),
                "cross_entropy", classes=classes,
                params=(("patch", patch), ("dim", dim), ("depth", depth), ("heads", heads)))


BUILDERS = {"mlp": mlp, "dncnn": dncnn, "espcn": espcn, "resnet": resnet, "vit": vit}


def build_arch(name: str, **params) -> Arch:
    """Build a named architecture from workload parameters; unknown names raise KeyError."""
    if name not in BUILDERS:
        raise KeyError(f"unknown architecture {name!r}; known: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[name](**params)
