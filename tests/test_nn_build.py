"""build_network: every architecture builds, has the right shapes and parameter counts, unique
stable names, seeded initialisation, and correct end-to-end gradients (float64)."""
import numpy as np
import pytest

from cosim import arch as archs
from cosim.nn.build import build_network
from cosim.nn.gradcheck import KINK_ROBUST_STEPS, check_model
from cosim.nn.matrix import DigitalMatrix, GradientMacs

TOLERANCE = 1e-5  # relative to the largest gradient entry checked; achieved ~1e-8 to 2e-6

SMALL = {
    "mlp": lambda: archs.mlp([6, 5, 3]),
    "dncnn": lambda: archs.dncnn(depth=4, channels=4, patch=6),
    "espcn": lambda: archs.espcn((4, 3), patch=5),
    "resnet8": lambda: archs.resnet(8, base_width=2, image_size=8, classes=3),
    "resnet18_imagenet": lambda: archs.resnet(18, "imagenet", classes=3, base_width=2, image_size=32),
    "vit": lambda: archs.vit(image_size=8, patch=4, dim=6, depth=2, heads=2, classes=3),
}


def digital(name, w):
    return DigitalMatrix(w)


def batch_for(arch, rng, n=2):
    x = rng.normal(size=(n, *arch.input_shape))
    if arch.loss == "cross_entropy":
        return x, rng.integers(0, arch.classes, n)
    return x, rng.normal(size=(n, *arch.output_shape))


def assert_network_gradients(arch, seed, train, samples=4):
    rng = np.random.default_rng(seed)
    net = build_network(arch, digital, rng)
    # Generic (non-zero) shifts: with beta = 0, a dead input channel puts a ReLU exactly on its kink.
    for p in net.host_params():
        p.value[...] = rng.normal(1.0 if p.name.endswith("gamma") else 0.0, 0.3, p.value.shape)
    x, target = batch_for(arch, rng, n=3)
    errors = check_model(net, x, lambda y: net.loss_and_grad(y, target), rng, samples=samples,
                         train=train, steps=KINK_ROBUST_STEPS)
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, (worst, errors[worst])
    assert len(errors) == 1 + len(net.matrix_params()) + len(net.host_params())


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("kind", sorted(SMALL))
def test_network_gradients(kind, train):
    assert_network_gradients(SMALL[kind](), len(kind), train)


@pytest.mark.slow
def test_bottleneck_resnet_gradients():
    assert_network_gradients(archs.resnet(50, "cifar", classes=3, base_width=2, image_size=8), 0,
                             train=True, samples=2)


@pytest.mark.parametrize("kind", sorted(SMALL))
def test_output_shape_and_host_op_accounting(kind):
    arch = SMALL[kind]()
    rng = np.random.default_rng(0)
    net = build_network(arch, digital, rng)
    x, target = batch_for(arch, rng)
    y = net.forward(x, train=True)
    assert y.shape == (2, *arch.output_shape)
    _, dy = net.loss_and_grad(y, target)
    assert net.backward(dy).shape == x.shape
    macs, ops = net.take_host_ops()
    assert macs >= 0 and ops > 0  # elementwise work was counted (weight gradients go to the matrices)
    assert net.take_host_ops() == (0.0, 0.0)  # and taking them reset every layer
    assert net.forward(x, train=False).shape == y.shape


@pytest.mark.parametrize("arch,count", [
    (archs.resnet(18, "imagenet", classes=1000), 11_689_512),  # torchvision resnet18
    (archs.resnet(50, "imagenet", classes=1000), 25_557_032),  # torchvision resnet50
    (archs.vit(), 5_717_416),                                  # timm vit_tiny_patch16_224
])
def test_parameter_counts_match_reference_implementations(arch, count):
    net = build_network(arch, digital, np.random.default_rng(0))
    total = sum(p.matrix.w.size for p in net.matrix_params()) + sum(p.value.size for p in net.host_params())
    assert total == count


@pytest.mark.parametrize("arch", [archs.resnet(8), archs.resnet(14), archs.resnet(20),
                                  archs.resnet(18), archs.vit(image_size=32, patch=4, dim=384,
                                                             depth=2, heads=6, classes=10)])
def test_default_sized_networks_build_and_run(arch):
    net = build_network(arch, digital, np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(2, *arch.input_shape))
    y = net.forward(x, train=True)
    assert y.shape == (2, *arch.output_shape) and np.all(np.isfinite(y))
    assert net.backward(np.ones_like(y)).shape == x.shape


def test_names_unique_stable_and_passed_to_make_matrix():
    arch = SMALL["resnet8"]()
    seen = []
    net = build_network(arch, lambda name, w: seen.append((name, w.shape)) or DigitalMatrix(w),
                        np.random.default_rng(0))
    names = [p.name for p in net.matrix_params()]
    assert [n for n, _ in seen] == names and len(set(names)) == len(names)
    assert names[:3] == ["conv1", "block1.conv1", "block1.conv2"]
    assert "block2.shortcut.conv1" in names and names[-1] == "linear1"
    assert all(shape == p.matrix.w.shape for (_, shape), p in zip(seen, net.matrix_params()))
    again = build_network(arch, digital, np.random.default_rng(5))
    assert [p.name for p in again.matrix_params()] == names
    host = [p.name for p in net.host_params()]
    assert len(set(host)) == len(host) and "block1.bn1.gamma" in host
    vit_names = [p.name for p in build_network(SMALL["vit"](), digital, np.random.default_rng(0)).matrix_params()]
    assert vit_names[:3] == ["patch_embed", "block1.attn.qkv", "block1.attn.proj"]


def test_seeded_initialisation_is_deterministic_and_seed_dependent():
    arch = SMALL["vit"]()

    def weights(seed):
        net = build_network(arch, digital, np.random.default_rng(seed))
        return [p.matrix.w for p in net.matrix_params()] + [p.value for p in net.host_params()]

    a, b, c = weights(3), weights(3), weights(4)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))


def test_init_scheme_he_for_relu_xavier_otherwise():
    relu_net = build_network(archs.dncnn(depth=3, channels=64), digital, np.random.default_rng(0))
    w = relu_net.matrix_params()[1].matrix.w  # 3x3x64 -> 64
    assert w.std() == pytest.approx(np.sqrt(2.0 / (9 * 64)), rel=0.02)
    sig_net = build_network(archs.mlp([256, 128, 10]), digital, np.random.default_rng(0))
    w = sig_net.matrix_params()[0].matrix.w
    limit = np.sqrt(6.0 / (256 + 128))
    assert np.abs(w).max() <= limit and w.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)


def test_unknown_op_is_a_clear_error():
    bad = archs.Arch("bad", (3,), archs.Node("sequential", (3,), (3,), children=(
        archs.Node("dropout", (3,), (3,)),)), "mse")
    with pytest.raises(ValueError, match="dropout"):
        build_network(bad, digital, np.random.default_rng(0))


@pytest.mark.parametrize("name", ["mlp", "dncnn", "vit"])
def test_without_input_grad_parameter_grads_are_unchanged_and_the_first_product_is_skipped(name):
    arch = SMALL[name]()
    counted = []

    def counting(name, w):
        m = DigitalMatrix(w)
        counted.append(m)
        return m
    full = build_network(arch, digital, np.random.default_rng(3))
    lean = build_network(arch, counting, np.random.default_rng(3), input_grad=False)
    x = np.random.default_rng(4).normal(size=(2, *arch.input_shape))
    dy = np.random.default_rng(5).normal(size=(2, *arch.output_shape))
    full.forward(x), lean.forward(x)
    forward_macs = sum(op.macs for m in counted for op in m.ops)
    assert full.backward(dy) is not None and lean.backward(dy) is None
    for a, b in zip(full.matrix_params(), lean.matrix_params()):
        np.testing.assert_allclose(a.grad, b.grad)
    first = counted[0]
    # every matrix did one backward product except the one fed by the data
    products = lambda m: [op for op in m.ops if not isinstance(op, GradientMacs)]  # noqa: E731
    backward_macs = sum(op.macs for m in counted for op in products(m)) - forward_macs
    assert backward_macs == pytest.approx(forward_macs - sum(op.macs for op in first.ops[:1]))
