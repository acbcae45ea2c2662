"""Convolution on a weight Matrix via im2col, and the ViT patch embedding built on it.

A k x k x C_in kernel is unrolled into the rows of the matrix (row index = (ky * k + kx) * C_in + c)
and the C_out filters into its columns, so one convolution is one matrix product of the
(N * H_out * W_out, k * k * C_in) column matrix with W, exactly what a crossbar tile computes.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cosim.nn.layers import HostParam, Layer, MatrixParam
from cosim.nn.matrix import Matrix, record_weight_gradient


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _padded_nhwc(x: np.ndarray, padding: int) -> np.ndarray:
    """(N, C, H, W) -> zero-padded (N, H + 2p, W + 2p, C): channels innermost, so each kernel
    offset below reads and writes contiguous runs of C values."""
    n, c, h, w = x.shape
    xp = np.zeros((n, h + 2 * padding, w + 2 * padding, c), dtype=x.dtype)
    xp[:, padding:padding + h, padding:padding + w, :] = x.transpose(0, 2, 3, 1)
    return xp


def im2col(x: np.ndarray, kernel: int, stride: int, padding: int) -> np.ndarray:
    """(N, C, H, W) -> (N * H_out * W_out, k * k * C); rows ordered (n, oy, ox), columns
    (ky, kx, c). One strided window view, copied once."""
    c = x.shape[1]
    windows = sliding_window_view(_padded_nhwc(x, padding), (kernel, kernel), axis=(1, 2))
    windows = windows[:, ::stride, ::stride]  # (N, H_out, W_out, C, k, k)
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, kernel * kernel * c)


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], kernel: int, stride: int,
           padding: int) -> np.ndarray:
    """Adjoint of im2col: scatter-add column gradients back to an (N, C, H, W) image.
    Loops only over the k * k kernel offsets."""
    n, c, h, w = x_shape
    h_out = conv_output_size(h, kernel, stride, padding)
    w_out = conv_output_size(w, kernel, stride, padding)
    cols = cols.reshape(n, h_out, w_out, kernel, kernel, c)
    dxp = np.zeros((n, h + 2 * padding, w + 2 * padding, c), dtype=cols.dtype)
    for ky in range(kernel):
        for kx in range(kernel):
            dxp[:, ky:ky + stride * h_out:stride, kx:kx + stride * w_out:stride, :] += \
                cols[:, :, :, ky, kx, :]
    return dxp[:, padding:padding + h, padding:padding + w, :].transpose(0, 3, 1, 2)


class Conv2d(Layer):
    """2-D convolution, (N, C_in, H, W) -> (N, C_out, H_out, W_out), weights in a Matrix of shape
    (kernel * kernel * c_in, c_out). Bias is a host parameter."""

    def __init__(self, matrix: Matrix, c_in: int, kernel: int, stride: int = 1, padding: int = 0,
                 name: str = "conv", bias: bool = True):
        super().__init__()
        if matrix.in_features != kernel * kernel * c_in:
            raise ValueError(f"{name}: matrix has {matrix.in_features} rows, expected "
                             f"kernel^2 * c_in = {kernel * kernel * c_in}")
        self.c_in, self.c_out = c_in, matrix.out_features
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.weight = MatrixParam(name, matrix)
        self.bias = HostParam(f"{name}.bias", np.zeros(self.c_out)) if bias else None
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        n, _, h, w = x.shape
        h_out = conv_output_size(h, self.kernel, self.stride, self.padding)
        w_out = conv_output_size(w, self.kernel, self.stride, self.padding)
        # Keep the input, not its k^2-times larger column matrix; backward rebuilds the columns.
        self._x = x
        cols = im2col(x, self.kernel, self.stride, self.padding)
        # The host sends the feature map (or only the pixels a strided kernel reaches); the
        # tile's input buffer unrolls the columns.
        y = self.weight.matrix.matmul(cols, input_values=min(x.size, cols.size))
        if self.bias is not None:
            y = y + self.bias.value
            self.host_ops.add(ops=y.size)
        return y.reshape(n, h_out, w_out, self.c_out).transpose(0, 3, 1, 2)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        dy_rows = dy.transpose(0, 2, 3, 1).reshape(-1, self.c_out)
        cols = im2col(self._x, self.kernel, self.stride, self.padding)
        # Weight gradient cols^T @ dy is an outer-product accumulation done on the host.
        self.weight.grad = cols.T @ dy_rows
        record_weight_gradient(self.weight.matrix, cols.shape[0] * cols.shape[1] * self.c_out)
        if self.bias is not None:
            self.bias.grad = dy_rows.sum(axis=0)
            self.host_ops.add(ops=dy_rows.size)
        if not self.needs_input_grad:
            return None
        dcols = self.weight.matrix.matmul_t(dy_rows)
        self.host_ops.add(ops=dcols.size)  # the scatter-adds of col2im
        return col2im(dcols, self._x.shape, self.kernel, self.stride, self.padding)

    def matrix_params(self) -> list[MatrixParam]:
        return [self.weight]

    def host_params(self) -> list[HostParam]:
        return [self.bias] if self.bias is not None else []


class PatchEmbed(Layer):
    """ViT patch embedding: a conv with kernel = stride = patch (a (patch^2 * c_in, dim) Matrix),
    its output grid read row-major as tokens: (N, C, H, W) -> (N, (H/p) * (W/p), dim)."""

    def __init__(self, matrix: Matrix, c_in: int, patch: int, name: str = "patch_embed"):
        super().__init__()
        self.conv = Conv2d(matrix, c_in, patch, stride=patch, padding=0, name=name, bias=True)
        self.host_ops = self.conv.host_ops  # one counter: the conv does all the work
        self._grid: tuple[int, ...] = ()

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        y = self.conv.forward(x, train)
        self._grid = y.shape
        n, d = y.shape[:2]
        return y.reshape(n, d, -1).transpose(0, 2, 1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        return self.conv.backward(dy.transpose(0, 2, 1).reshape(self._grid))

    def matrix_params(self) -> list[MatrixParam]:
        return self.conv.matrix_params()

    def host_params(self) -> list[HostParam]:
        return self.conv.host_params()
