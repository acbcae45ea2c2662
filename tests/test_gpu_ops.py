"""FLOP, byte and kernel counts of the GPU model against hand-computed values."""
import json
from pathlib import Path

import pytest

from cosim.gpu.calibrate import calibration_archs
from cosim.gpu.ops import parameter_count, step_kernels
from cosim.arch import Arch, _node, _seq, dncnn, mlp, resnet, vit

MEASURED = Path(__file__).resolve().parents[1] / "hardware_specs" / "gpus" / "h200_measured.json"


def tensor_flops(kernels, phase=None):
    return sum(k.flops for k in kernels if k.is_tensor_op and (phase is None or k.phase == phase))


def one_layer(node, loss="mse"):
    return Arch("t", node.in_shape, _seq([node], node.in_shape), loss)


def test_linear_first_layer_skips_input_gradient():
    net = mlp([3, 5], activation="relu")
    ks = [k for k in step_kernels(net, batch_size=2) if k.op == "linear"]
    assert tensor_flops(ks, "forward") == 2 * 2 * 3 * 5
    assert tensor_flops(ks, "backward") == 2 * 2 * 3 * 5        # weight gradient only
    bias_grad = [k for k in ks if k.kind == "vector"]
    assert len(bias_grad) == 1 and bias_grad[0].flops == 2 * 5


def test_mlp_hidden_layers_count_input_gradients():
    ks = step_kernels(mlp([4, 6, 3], activation="relu"), batch_size=5)
    fwd = 2 * 5 * (4 * 6 + 6 * 3)
    assert tensor_flops(ks, "forward") == fwd
    assert tensor_flops(ks, "backward") == fwd + 2 * 5 * 6 * 3   # + dx of the second layer


def test_conv2d_flops_and_bytes():
    node = _node("conv2d", (2, 5, 5), (4, 5, 5), c_in=2, c_out=4, kernel=3, stride=1, padding=1,
                 bias=False)
    ks = [k for k in step_kernels(one_layer(node), batch_size=2) if k.op == "conv2d"]
    macs = 2 * 5 * 5 * 4 * 2 * 9
    assert tensor_flops(ks, "forward") == 2 * macs
    assert tensor_flops(ks, "backward") == 2 * macs              # weight grad; input needs none
    fwd = next(k for k in ks if k.phase == "forward")
    assert fwd.bytes == 4 * (2 * 2 * 25 + 2 * 4 * 25 + 4 * 2 * 9)   # x + y + W, fp32


def test_strided_conv_counts_output_positions():
    node = _node("conv2d", (3, 8, 8), (6, 4, 4), c_in=3, c_out=6, kernel=3, stride=2, padding=1,
                 bias=True)
    ks = step_kernels(one_layer(node), batch_size=1)
    assert tensor_flops(ks, "forward") == 2 * 4 * 4 * 6 * 3 * 9
    assert sum(1 for k in ks if k.op == "conv2d" and k.phase == "forward") == 2   # conv + bias add


def test_attention_products_and_softmax():
    node = _node("attention", (5, 8), dim=8, heads=2, tokens=5)
    ks = step_kernels(Arch("t", (5, 8), _seq([_node("relu", (5, 8)), node], (5, 8)), "mse"), 1)
    qkv, qk, av, proj = 2 * 5 * 8 * 24, 2 * 25 * 8, 2 * 25 * 8, 2 * 5 * 8 * 8
    assert tensor_flops(ks, "forward") == qkv + qk + av + proj
    # input never needs a gradient here (relu of the raw input), so qkv has no dx GEMM
    assert tensor_flops(ks, "backward") == qkv + 2 * qk + 2 * av + 2 * proj
    softmax = next(k for k in ks if k.op == "attention.softmax" and k.phase == "forward")
    assert softmax.flops == 5 * 2 * 25 and softmax.bytes == 4 * 2 * 2 * 25


def test_elementwise_and_shape_ops():
    shape = (4, 6, 6)
    n = 3 * 4 * 6 * 6
    for op, fwd_flops in (("relu", n), ("sigmoid", 4 * n), ("gelu", 8 * n)):
        ks = step_kernels(one_layer(_node(op, shape)), batch_size=3)
        assert [k.flops for k in ks if k.op == op] == [fwd_flops]   # raw input: no backward kernel
    ps = _node("pixel_shuffle", shape, (1, 12, 12), scale=2)
    ks = [k for k in step_kernels(one_layer(ps), batch_size=3) if k.op == "pixel_shuffle"]
    assert [(k.flops, k.bytes) for k in ks] == [(0.0, 4.0 * 2 * n)]


def test_batchnorm_kernels_and_params():
    net = dncnn(3, 8, batch_norm=True, patch=6)
    ks = [k for k in step_kernels(net, batch_size=2) if k.op == "batchnorm2d"]
    assert len(ks) == 4 and all(k.kind == "vector" for k in ks)
    assert parameter_count(net) == (9 * 8 + 8) + (8 * 8 * 9 + 2 * 8) + (8 * 9 + 1)


def test_sgd_momentum_update_traffic():
    net = mlp([4, 6, 3], activation="relu")
    params = parameter_count(net)
    upd = [k for k in step_kernels(net, batch_size=1) if k.phase == "update"]
    assert len(upd) == 3                                 # mul_, add_, add_ (one launch each)
    assert sum(k.bytes for k in upd) == 4 * 8 * params   # 8 fp32 accesses per parameter
    assert sum(k.flops for k in upd) == 4 * params


def test_resnet18_imagenet_forward_is_published_1_8_gmac():
    arch = resnet(18, "imagenet", classes=1000)
    macs = tensor_flops(step_kernels(arch, batch_size=1), "forward") / 2
    assert abs(macs / 1.8e9 - 1) < 0.02
    assert abs(parameter_count(arch) / 11.69e6 - 1) < 0.01


def test_vit_tiny_forward_macs_and_params():
    arch = vit(224, 16, 192, 12, 3)
    macs = tensor_flops(step_kernels(arch, batch_size=1), "forward") / 2
    assert abs(macs / 1.26e9 - 1) < 0.03          # timm/fvcore report ~1.26 GMAC for ViT-Ti/16
    assert abs(parameter_count(arch) / 5.72e6 - 1) < 0.01


def test_calibration_networks_match_measured_flops_and_params():
    measured = {w["name"]: w for w in json.loads(MEASURED.read_text())["workloads"]}
    for name, (arch, batch) in calibration_archs().items():
        assert tensor_flops(step_kernels(arch, batch)) == measured[name]["flops_per_step"]
        assert parameter_count(arch) == measured[name]["params"]


def test_unknown_op_is_an_error():
    with pytest.raises(ValueError, match="no cost rule"):
        step_kernels(one_layer(_node("mystery", (3,))), 1)
    with pytest.raises(ValueError):
        step_kernels(mlp([3, 2]), 0)


def test_every_network_op_has_a_gpu_rule():
    """One registry of ops (cosim.nn.work.OPS); the GPU model prices each of them."""
    from cosim.gpu.ops import GPU_RULES
    from cosim.nn.work import OPS
    assert set(GPU_RULES) == set(OPS)
