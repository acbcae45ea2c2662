"""Finite-difference gradient checks (float64) of every layer type: input, matrix and host grads."""
import numpy as np
import pytest

from cosim.nn.attention import ClassToken, MultiHeadSelfAttention, TakeToken
from cosim.nn.blocks import GELU, GlobalResidual, Residual
from cosim.nn.conv import Conv2d, PatchEmbed
from cosim.nn.gradcheck import check_array, check_model, projection_loss
from cosim.nn.layers import Linear, Sequential, relu, sigmoid
from cosim.nn.losses import MeanSquaredError, SoftmaxCrossEntropy
from cosim.nn.matrix import DigitalMatrix
from cosim.nn.norm import BatchNorm2d, LayerNorm
from cosim.nn.shape_ops import Flatten, GlobalAvgPool, MaxPool2d, PixelShuffle

TOLERANCE = 1e-7  # relative to the largest gradient entry; central differences reach ~1e-9


def matrix(rng, rows, cols):
    return DigitalMatrix(rng.normal(0.0, 1.0 / np.sqrt(rows), (rows, cols)))


def randomise_host_params(layer, rng):
    """Non-trivial biases/scales so their gradients are exercised away from the init values."""
    for p in layer.host_params():
        p.value[...] = rng.normal(1.0 if p.name.endswith("gamma") else 0.0, 0.3, p.value.shape)


def assert_gradients(layer, x, rng, train=True):
    randomise_host_params(layer, rng)
    out_shape = layer.forward(x, train).shape
    errors = check_model(layer, x, projection_loss(rng.normal(size=out_shape)), rng, train=train)
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, (worst, errors[worst])
    return errors


def conv(rng, c_in, c_out, k, stride=1, padding=0, bias=True, name="conv"):
    return Conv2d(matrix(rng, k * k * c_in, c_out), c_in, k, stride, padding, name, bias)


@pytest.mark.parametrize("k,stride,padding,bias", [(3, 1, 1, True), (3, 2, 0, False), (1, 1, 0, True),
                                                   (2, 2, 1, True), (5, 3, 2, False)])
def test_conv2d_gradients(k, stride, padding, bias):
    rng = np.random.default_rng(k * 100 + stride * 10 + padding)
    layer = conv(rng, 3, 4, k, stride, padding, bias)
    errors = assert_gradients(layer, rng.normal(size=(2, 3, 7, 6)), rng)
    assert set(errors) == {"input", "matrix:conv"} | ({"host:conv.bias"} if bias else set())


def test_linear_gradients_on_vectors_and_tokens():
    rng = np.random.default_rng(1)
    assert_gradients(Linear(matrix(rng, 5, 4)), rng.normal(size=(3, 5)), rng)
    assert_gradients(Linear(matrix(rng, 5, 4)), rng.normal(size=(2, 3, 5)), rng)


@pytest.mark.parametrize("make", [relu, sigmoid, GELU])
def test_activation_gradients(make):
    rng = np.random.default_rng(2)
    assert_gradients(make(), rng.normal(size=(4, 3, 5)), rng)


def test_batchnorm_gradients_in_train_and_eval():
    rng = np.random.default_rng(3)
    bn = BatchNorm2d(3, momentum=0.5)
    x = rng.normal(2.0, 3.0, size=(4, 3, 3, 5))
    assert_gradients(bn, x, rng, train=True)
    assert not np.allclose(bn.running_mean, 0.0)  # running averages moved towards the batch
    assert_gradients(bn, x, rng, train=False)


def test_batchnorm_train_output_is_normalised_and_eval_uses_running_stats():
    rng = np.random.default_rng(4)
    bn = BatchNorm2d(2, momentum=1.0)  # running stats = last batch's
    x = rng.normal(5.0, 2.0, size=(8, 2, 4, 4))
    y = bn.forward(x, train=True)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, rtol=1e-4)
    count = x.size // 2
    np.testing.assert_allclose(bn.running_var, x.var(axis=(0, 2, 3)) * count / (count - 1))
    y_eval = bn.forward(x, train=False)
    assert np.abs(y_eval - y).max() < 0.05 and not np.allclose(y_eval, y)


def test_layernorm_gradients():
    rng = np.random.default_rng(5)
    assert_gradients(LayerNorm(6), rng.normal(size=(2, 4, 6)), rng)


def test_shape_op_gradients():
    rng = np.random.default_rng(6)
    assert_gradients(PixelShuffle(2), rng.normal(size=(2, 8, 3, 4)), rng)
    assert_gradients(GlobalAvgPool(), rng.normal(size=(2, 3, 4, 5)), rng)
    assert_gradients(Flatten(), rng.normal(size=(2, 3, 4, 5)), rng)
    assert_gradients(MaxPool2d(3, 2, 1), rng.normal(size=(2, 3, 7, 6)), rng)
    assert_gradients(MaxPool2d(2), rng.normal(size=(2, 2, 4, 6)), rng)


def test_residual_gradients():
    rng = np.random.default_rng(7)
    body = Sequential([conv(rng, 3, 4, 3, 2, 1, bias=False, name="b.conv1"), BatchNorm2d(4, "b.bn1"), relu(),
                       conv(rng, 4, 4, 3, 1, 1, name="b.conv2")])  # no bias before BN: its grad is 0
    shortcut = Sequential([conv(rng, 3, 4, 1, 2, 0, bias=False, name="s.conv1")])
    errors = assert_gradients(Residual(body, shortcut), rng.normal(size=(2, 3, 6, 6)), rng)
    assert "matrix:s.conv1" in errors and "host:b.bn1.gamma" in errors
    identity = Residual(Sequential([conv(rng, 3, 3, 3, 1, 1), relu()]))
    assert_gradients(identity, rng.normal(size=(2, 3, 5, 5)), rng)
    assert_gradients(GlobalResidual(conv(rng, 1, 1, 3, 1, 1)), rng.normal(size=(2, 1, 5, 5)), rng)


def test_attention_gradients():
    rng = np.random.default_rng(8)
    attn = MultiHeadSelfAttention(matrix(rng, 6, 18), matrix(rng, 6, 6), heads=2)
    errors = assert_gradients(attn, rng.normal(size=(2, 5, 6)), rng)
    assert {"matrix:attn.qkv", "matrix:attn.proj", "host:attn.qkv.bias"} <= set(errors)


def test_token_layer_gradients():
    rng = np.random.default_rng(9)
    assert_gradients(PatchEmbed(matrix(rng, 2 * 2 * 3, 5), 3, 2), rng.normal(size=(2, 3, 4, 6)), rng)
    assert_gradients(ClassToken(4, 5, rng), rng.normal(size=(2, 3, 5)), rng)
    assert_gradients(TakeToken(0), rng.normal(size=(2, 3, 5)), rng)


def test_loss_gradients():
    rng = np.random.default_rng(10)
    logits, labels = rng.normal(size=(5, 4)) * 3, rng.integers(0, 4, 5)
    ce = SoftmaxCrossEntropy()
    _, dlogits = ce(logits, labels)
    assert check_array(lambda: ce(logits, labels)[0], logits, dlogits, rng, samples=20) < TOLERANCE
    prediction, target = rng.normal(size=(3, 1, 4, 4)), rng.normal(size=(3, 1, 4, 4))
    mse = MeanSquaredError()
    loss, dpred = mse(prediction, target)
    assert loss == pytest.approx(np.mean((prediction - target) ** 2))
    assert check_array(lambda: mse(prediction, target)[0], prediction, dpred, rng) < TOLERANCE
    assert ce.host_ops.ops > 0 and mse.host_ops.ops > 0


def test_cross_entropy_value_matches_definition():
    logits = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    loss, _ = SoftmaxCrossEntropy()(logits, np.array([2, 1]))
    expected = (-np.log(np.exp(3) / np.exp([1, 2, 3]).sum()) + np.log(3)) / 2
    assert loss == pytest.approx(expected, rel=1e-12)
