"""Layers use only the Matrix protocol (2-D products), and the pieces train end to end."""
import numpy as np
import pytest

from cosim import arch as archs
from cosim.nn import images
from cosim.nn.build import build_network
from cosim.nn.layers import Linear, Sequential, relu
from cosim.nn.matrix import DigitalMatrix, GradientMacs


class StrictMatrix:
    """A Matrix that, like a crossbar tile, accepts only (N, in) / (N, out) batches and exposes
    no weights to the layer; counts its products."""

    def __init__(self, w):
        self._w = np.array(w)
        self.in_features, self.out_features = self._w.shape
        self.calls = 0

    def matmul(self, x, input_values=None):
        assert x.ndim == 2 and x.shape[1] == self.in_features
        # the distinct values x was unrolled from can be fewer than x.size, never more
        assert input_values is None or 0 < input_values <= x.size
        self.calls += 1
        return x @ self._w

    def matmul_t(self, dy):
        assert dy.ndim == 2 and dy.shape[1] == self.out_features
        self.calls += 1
        return dy @ self._w.T

    def weights(self):
        return self._w.copy()

    def apply_update(self, delta_w):
        self._w += delta_w


@pytest.mark.parametrize("arch", [
    archs.dncnn(depth=3, channels=4, patch=6), archs.espcn((4, 3), patch=5),
    archs.resnet(18, "imagenet", classes=3, base_width=2, image_size=32),
    archs.vit(image_size=8, patch=4, dim=6, depth=2, heads=2, classes=3)])
def test_any_matrix_implementation_gives_the_same_network(arch):
    strict = build_network(arch, lambda name, w: StrictMatrix(w), np.random.default_rng(0))
    digital = build_network(arch, lambda name, w: DigitalMatrix(w), np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(2, *arch.input_shape))
    y = strict.forward(x)
    np.testing.assert_allclose(y, digital.forward(x), rtol=1e-12, atol=1e-12)
    dy = np.random.default_rng(2).normal(size=y.shape)
    np.testing.assert_allclose(strict.backward(dy), digital.backward(dy), rtol=1e-10, atol=1e-12)
    assert all(p.matrix.calls == 2 for p in strict.matrix_params())  # one forward, one backward


def test_linear_on_tokens_equals_linear_on_rows():
    rng = np.random.default_rng(3)
    w, x, dy = rng.normal(size=(4, 3)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 3))
    tokens, rows = Linear(DigitalMatrix(w)), Linear(DigitalMatrix(w))
    np.testing.assert_allclose(tokens.forward(x), rows.forward(x.reshape(10, 4)).reshape(2, 5, 3))
    np.testing.assert_allclose(tokens.backward(dy), rows.backward(dy.reshape(10, 3)).reshape(x.shape))
    np.testing.assert_allclose(tokens.weight.grad, np.einsum("nti,nto->io", x, dy))


def test_sequential_collects_host_ops_from_nested_layers():
    rng = np.random.default_rng(4)
    inner = Sequential([Linear(DigitalMatrix(rng.normal(size=(3, 2)))), relu()])
    net = Sequential([inner, Linear(DigitalMatrix(rng.normal(size=(2, 2))))])
    y = net.forward(rng.normal(size=(5, 3)))
    net.backward(np.ones_like(y))
    macs, ops = net.take_host_ops()
    assert macs == 0  # the two weight gradients are recorded with their matrices, not here
    grads = [op.macs for layer in (inner.layers[0], net.layers[1]) for op in layer.weight.matrix.ops
             if isinstance(op, GradientMacs)]
    assert grads == [5 * 3 * 2, 5 * 2 * 2]
    assert ops == 2 * 10 + 2 * 10 + 2 * 10  # biases (fwd + grad) of both, relu fwd + bwd
    assert net.take_host_ops() == (0.0, 0.0)


def test_small_denoiser_learns_with_plain_sgd():
    rng = np.random.default_rng(5)
    arch = archs.dncnn(depth=3, channels=8, batch_norm=False, patch=16)
    net = build_network(arch, lambda name, w: DigitalMatrix(w), rng)
    noisy, clean = images.denoising_pairs("train", 64, rng, patch=16)
    first = last = None
    for step in range(40):
        loss, grad = net.loss_and_grad(net.forward(noisy), clean)
        net.backward(grad)
        for p in net.matrix_params():
            p.matrix.apply_update(-0.05 * p.grad)
        for p in net.host_params():
            p.value -= 0.05 * p.grad
        first = loss if first is None else first
        last = loss
    assert last < 0.7 * first
