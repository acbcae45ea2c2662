"""Layers that move, pool or reshape activations on the host; none has parameters."""
from __future__ import annotations

import numpy as np

from cosim.nn.conv import conv_output_size
from cosim.nn.layers import Layer


class Flatten(Layer):
    """(N, ...) -> (N, prod(...)). Pure relabelling: no host work."""

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple[int, ...] = ()

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(self._shape)


def pixel_shuffle(x: np.ndarray, scale: int) -> np.ndarray:
    """(N, C * r^2, H, W) -> (N, C, H * r, W * r); channel c * r^2 + i * r + j goes to (i, j)."""
    n, c, h, w = x.shape
    out_c = c // (scale * scale)
    y = x.reshape(n, out_c, scale, scale, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, out_c, h * scale, w * scale)


def pixel_unshuffle(y: np.ndarray, scale: int) -> np.ndarray:
    """Exact inverse of pixel_shuffle: (N, C, H * r, W * r) -> (N, C * r^2, H, W)."""
    n, c, hr, wr = y.shape
    h, w = hr // scale, wr // scale
    x = y.reshape(n, c, h, scale, w, scale).transpose(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * scale * scale, h, w)


class PixelShuffle(Layer):
    """Sub-pixel upsampling (ESPCN); a permutation, so no host arithmetic is counted."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        return pixel_shuffle(x, self.scale)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return pixel_unshuffle(dy, self.scale)


class GlobalAvgPool(Layer):
    """(N, C, H, W) -> (N, C): mean over space."""

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple[int, ...] = ()

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self._shape = x.shape
        self.host_ops.add(ops=x.size)
        return x.mean(axis=(2, 3))

    def backward(self, dy: np.ndarray) -> np.ndarray:
        n, c, h, w = self._shape
        self.host_ops.add(ops=n * c * h * w)
        return np.broadcast_to((dy / (h * w))[:, :, None, None], self._shape).copy()


class MaxPool2d(Layer):
    """Max pooling with -inf padding; the gradient goes to the (first) maximal input of each
    window. Loops only over the kernel offsets."""

    def __init__(self, kernel: int, stride: int | None = None, padding: int = 0):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride or kernel, padding
        self._argmax: np.ndarray | None = None
        self._shape: tuple[int, ...] = ()

    def _windows(self, h: int, w: int):
        """(ky, kx, row slice, col slice) of each kernel offset into the padded input."""
        k, s, p = self.kernel, self.stride, self.padding
        h_out, w_out = conv_output_size(h, k, s, p), conv_output_size(w, k, s, p)
        for ky in range(k):
            for kx in range(k):
                yield slice(ky, ky + s * h_out, s), slice(kx, kx + s * w_out, s)

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        p = self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf) if p else x
        views = np.stack([xp[:, :, rows, cols] for rows, cols in self._windows(*x.shape[2:])])
        self._argmax = views.argmax(axis=0)
        self._shape = x.shape
        self.host_ops.add(ops=views.size)  # one comparison per window element
        return np.take_along_axis(views, self._argmax[None], axis=0)[0]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        n, c, h, w = self._shape
        p = self.padding
        dxp = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dy.dtype)
        for offset, (rows, cols) in enumerate(self._windows(h, w)):
            dxp[:, :, rows, cols] += np.where(self._argmax == offset, dy, 0.0)
        self.host_ops.add(ops=dy.size)
        return dxp[:, :, p:p + h, p:p + w] if p else dxp
