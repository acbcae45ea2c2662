"""Transformer pieces for a small ViT: multi-head self-attention, class token with position
embeddings, and token selection. Tensors are (N, T, D).

In attention only the qkv (D x 3D) and output (D x D) projections have weights, so only they go
through Matrices (tiles). Q K^T, softmax and A V multiply activations by activations; they are
done digitally on the host and counted in host_ops.
"""
from __future__ import annotations

import numpy as np

from cosim.nn.layers import HostParam, Layer, Linear, MatrixParam
from cosim.nn.matrix import Matrix

# Softmax per score: subtract max, exp, sum, divide; its backward: product, sum, subtract, product.
SOFTMAX_FORWARD_OPS_PER_ELEMENT = 4
SOFTMAX_BACKWARD_OPS_PER_ELEMENT = 4


def softmax(scores: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class MultiHeadSelfAttention(Layer):
    """softmax(Q K^T / sqrt(d_head)) V per head, then the output projection."""

    def __init__(self, qkv: Matrix, proj: Matrix, heads: int, name: str = "attn"):
        super().__init__()
        dim = proj.in_features
        if qkv.in_features != dim or qkv.out_features != 3 * dim or dim % heads:
            raise ValueError(f"{name}: need qkv {dim}x{3 * dim}, proj {dim}x{dim}, dim % heads == 0")
        self.qkv = Linear(qkv, f"{name}.qkv")
        self.proj = Linear(proj, f"{name}.proj")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self._cache = None

    def _split_heads(self, x: np.ndarray) -> np.ndarray:
        """(N, T, 3D) -> (3, N, heads, T, d_head)."""
        n, t, _ = x.shape
        return x.reshape(n, t, 3, self.heads, self.head_dim).transpose(2, 0, 3, 1, 4)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        n, t, _ = x.shape
        q, k, v = self._split_heads(self.qkv.forward(x, train))
        scale = 1.0 / np.sqrt(self.head_dim)
        attn = softmax(q @ k.transpose(0, 1, 3, 2) * scale)
        mixed = attn @ v
        self._cache = (q, k, v, attn, scale)
        self._count_core(n, t, SOFTMAX_FORWARD_OPS_PER_ELEMENT + 1)  # +1: the scaling
        merged = mixed.transpose(0, 2, 1, 3).reshape(n, t, self.dim)
        return self.proj.forward(merged, train)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        n, t, _ = dy.shape
        q, k, v, attn, scale = self._cache
        dmixed = self.proj.backward(dy).reshape(n, t, self.heads, self.head_dim).transpose(0, 2, 1, 3)
        dattn = dmixed @ v.transpose(0, 1, 3, 2)
        dv = attn.transpose(0, 1, 3, 2) @ dmixed
        dscores = attn * (dattn - (dattn * attn).sum(axis=-1, keepdims=True)) * scale
        dq = dscores @ k
        dk = dscores.transpose(0, 1, 3, 2) @ q
        self._count_core(n, t, SOFTMAX_BACKWARD_OPS_PER_ELEMENT + 1, products=4)
        dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(n, t, 3 * self.dim)
        return self.qkv.backward(dqkv)

    def _count_core(self, n: int, t: int, ops_per_score: int, products: int = 2) -> None:
        """Host work of the activation x activation products (each T x T x d_head per head)."""
        scores = n * self.heads * t * t
        self.host_ops.add(macs=products * scores * self.head_dim, ops=ops_per_score * scores)

    def matrix_params(self) -> list[MatrixParam]:
        return self.qkv.matrix_params() + self.proj.matrix_params()

    def host_params(self) -> list[HostParam]:
        return self.qkv.host_params() + self.proj.host_params()

    def take_host_ops(self) -> tuple[float, float]:
        own = self.host_ops.take()
        q_macs, q_ops = self.qkv.take_host_ops()
        p_macs, p_ops = self.proj.take_host_ops()
        return own[0] + q_macs + p_macs, own[1] + q_ops + p_ops


class ClassToken(Layer):
    """Prepend a learned class token and add learned position embeddings (host parameters):
    (N, T - 1, D) -> (N, T, D)."""

    def __init__(self, tokens: int, dim: int, rng: np.random.Generator, name: str = "cls",
                 init_std: float = 0.02):
        super().__init__()
        self.token = HostParam(f"{name}.token", rng.normal(0.0, init_std, dim))
        self.position = HostParam(f"{name}.position", rng.normal(0.0, init_std, (tokens, dim)))

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        n, _, d = x.shape
        token = np.broadcast_to(self.token.value.astype(x.dtype), (n, 1, d))
        y = np.concatenate([token, x], axis=1) + self.position.value
        self.host_ops.add(ops=y.size)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        self.token.grad = dy[:, 0].sum(axis=0)
        self.position.grad = dy.sum(axis=0)
        self.host_ops.add(ops=dy.size)
        return dy[:, 1:]

    def host_params(self) -> list[HostParam]:
        return [self.token, self.position]


class TakeToken(Layer):
    """(N, T, D) -> (N, D): keep one token (the class token)."""

    def __init__(self, index: int = 0):
        super().__init__()
        self.index = index
        self._shape: tuple[int, ...] = ()

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self._shape = x.shape
        return x[:, self.index]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dx = np.zeros(self._shape, dtype=dy.dtype)
        dx[:, self.index] = dy
        return dx
