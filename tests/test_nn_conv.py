"""Forward correctness of convolution, pooling and pixel shuffle against direct loop references."""
import numpy as np
import pytest

from cosim.nn.attention import MultiHeadSelfAttention
from cosim.nn.conv import Conv2d, PatchEmbed, col2im, im2col
from cosim.nn.matrix import DigitalMatrix, GradientMacs
from cosim.nn.shape_ops import MaxPool2d, pixel_shuffle, pixel_unshuffle


def reference_conv(x, kernel_oihw, bias, stride, padding):
    """Textbook cross-correlation with explicit loops over every output pixel."""
    n, c_in, h, w = x.shape
    c_out, _, k, _ = kernel_oihw.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out, w_out = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    y = np.zeros((n, c_out, h_out, w_out))
    for b in range(n):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    patch = xp[b, :, i * stride:i * stride + k, j * stride:j * stride + k]
                    y[b, o, i, j] = np.sum(patch * kernel_oihw[o]) + bias[o]
    return y


def kernel_to_matrix(kernel_oihw):
    """(C_out, C_in, k, k) -> rows ordered (ky, kx, c_in), columns C_out."""
    c_out = kernel_oihw.shape[0]
    return kernel_oihw.transpose(2, 3, 1, 0).reshape(-1, c_out)


@pytest.mark.parametrize("k,stride,padding", [(3, 1, 1), (3, 2, 0), (1, 1, 0), (2, 2, 1), (5, 2, 2)])
def test_conv_forward_matches_loop_reference(k, stride, padding):
    rng = np.random.default_rng(k + 10 * stride + 100 * padding)
    x, kernel, bias = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, k, k)), rng.normal(size=4)
    layer = Conv2d(DigitalMatrix(kernel_to_matrix(kernel)), 3, k, stride, padding)
    layer.bias.value[...] = bias
    y = layer.forward(x)
    expected = reference_conv(x, kernel, bias, stride, padding)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 7, 5))
    cols = im2col(x, 3, 2, 1)
    r = rng.normal(size=cols.shape)
    assert np.sum(cols * r) == pytest.approx(np.sum(x * col2im(r, x.shape, 3, 2, 1)), rel=1e-12)


def test_conv_host_ops_count_weight_gradient_macs():
    rng = np.random.default_rng(1)
    layer = Conv2d(DigitalMatrix(rng.normal(size=(27, 4))), 3, 3, 1, 1, bias=True)
    y = layer.forward(rng.normal(size=(2, 3, 5, 5)))
    layer.backward(np.ones_like(y))
    macs, ops = layer.take_host_ops()
    rows = 2 * 5 * 5
    assert macs == 0      # the weight gradient is recorded with the matrix (weight-gradient phase)
    assert [op.macs for op in layer.weight.matrix.ops if isinstance(op, GradientMacs)] == [rows * 27 * 4]
    assert ops == 2 * y.size + rows * 27  # bias add + bias grad + col2im scatter-adds
    assert layer.take_host_ops() == (0.0, 0.0)


def test_float32_stays_float32():
    rng = np.random.default_rng(2)
    layer = Conv2d(DigitalMatrix(rng.normal(size=(9, 2))), 1, 3, 1, 1)
    layer.weight.matrix.w = layer.weight.matrix.w.astype(np.float32)
    layer.bias.value = layer.bias.value.astype(np.float32)
    y = layer.forward(rng.normal(size=(1, 1, 4, 4)).astype(np.float32))
    assert y.dtype == np.float32 and layer.backward(y).dtype == np.float32


def test_patch_embed_tokens_are_row_major_patches():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(2 * 2 * 3, 5))
    x = rng.normal(size=(2, 3, 4, 6))
    tokens = PatchEmbed(DigitalMatrix(w), 3, 2).forward(x)
    assert tokens.shape == (2, 6, 5)
    # token 4 = grid row 1, column 1: pixels rows 2-3, cols 2-3, rows of W ordered (ky, kx, c)
    patch = x[1, :, 2:4, 2:4].transpose(1, 2, 0).reshape(-1)
    np.testing.assert_allclose(tokens[1, 4], patch @ w, rtol=1e-12)


def test_pixel_shuffle_inverse_and_layout():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 12, 3, 5))
    y = pixel_shuffle(x, 2)
    assert y.shape == (2, 3, 6, 10)
    np.testing.assert_array_equal(pixel_unshuffle(y, 2), x)
    np.testing.assert_array_equal(pixel_shuffle(pixel_unshuffle(y, 2), 2), y)
    # channel c * r^2 + i * r + j lands at sub-pixel (i, j), as in PyTorch's PixelShuffle
    assert y[1, 2, 2 * 1 + 1, 2 * 3 + 0] == x[1, 2 * 4 + 1 * 2 + 0, 1, 3]


def test_maxpool_matches_loop_reference():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 3, 7, 6))
    y = MaxPool2d(3, 2, 1).forward(x)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    expected = np.array([[[[xp[b, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3].max() for j in range(3)]
                           for i in range(4)] for c in range(3)] for b in range(2)])
    np.testing.assert_array_equal(y, expected)


def test_attention_matches_direct_formula_and_counts_host_macs():
    rng = np.random.default_rng(6)
    n, t, d, heads = 2, 4, 6, 3
    wqkv, wproj = rng.normal(size=(d, 3 * d)), rng.normal(size=(d, d))
    attn = MultiHeadSelfAttention(DigitalMatrix(wqkv), DigitalMatrix(wproj), heads)
    x = rng.normal(size=(n, t, d))
    y = attn.forward(x)
    q, k, v = np.split(x @ wqkv, 3, axis=-1)
    heads_out = []
    for h in range(heads):
        s = slice(2 * h, 2 * h + 2)
        scores = q[..., s] @ k[..., s].transpose(0, 2, 1) / np.sqrt(2)
        a = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
        heads_out.append(a @ v[..., s])
    np.testing.assert_allclose(y, np.concatenate(heads_out, -1) @ wproj, rtol=1e-10)
    macs, _ = attn.take_host_ops()
    assert macs == 2 * n * heads * t * t * (d // heads)  # QK^T and AV only; projections are tiles
