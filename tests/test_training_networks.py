"""Every named architecture trains on the chip through the same Trainer: conv nets on image
patches, residual and attention nets on digits. Tiny sizes; the paper workloads are run by hand."""
import numpy as np
import pytest

import cosim
from cosim.nn.tasks import load_task
from cosim.sim.training import Trainer
from cosim.specs.workload import WorkloadSpec
from tests.conftest import HOST_CENTRIC, hardware

CASES = {
    "dncnn_denoise": ({"dataset": "denoise", "patch": 12, "train_patches": 16, "test_patches": 4},
                      {"arch": "dncnn", "params": {"depth": 3, "channels": 4, "batch_norm": True, "patch": 12}}),
    "espcn_sr_x2": ({"dataset": "sr_x2", "patch": 12, "train_patches": 16, "test_patches": 4},
                    {"arch": "espcn", "params": {"widths": [4, 4], "patch": 6}}),
    "resnet_digits": ({"dataset": "digits"},
                      {"arch": "resnet", "params": {"depth": 8, "base_width": 2, "image_size": 8, "image_channels": 1}}),
    "vit_digits": ({"dataset": "digits"},
                   {"arch": "vit", "params": {"image_size": 8, "patch": 4, "dim": 8, "depth": 1, "heads": 2,
                                              "classes": 10, "image_channels": 1}}),
}


def workload(case: str, steps: int = 2, methods=("ideal", "eapu")) -> WorkloadSpec:
    data, network = CASES[case]
    return WorkloadSpec.model_validate({
        "name": case, "data": data, "network": network, "methods": list(methods),
        "training": {"steps": steps, "batch_size": 2, "learning_rate": 0.01, "eval_every": steps}})


@pytest.mark.parametrize("case", sorted(CASES))
def test_network_trains_on_tiles_and_every_matrix_is_priced(case):
    wl = workload(case)
    result = cosim.run(wl, hardware())
    eapu = result.summary["methods"]["eapu"]
    assert np.isfinite(eapu["metric"]["value"]) and eapu["tiles"] > 0
    tx = result.runs[1].ledger.transactions()
    tiles = tx[(tx.step == 0) & (tx.kind == "tile")]
    forward, backward = tiles[tiles.op == "forward"], tiles[tiles.op == "backward"]
    # every matrix read forward once per step, and backward once except the one fed by the data
    trainer = Trainer("eapu", wl, hardware(), load_task(wl.data, wl.network.build().input_shape))
    matrices = len(trainer.state.matrices)
    assert forward.groupby(forward.component.str.split(".tile").str[0]).ngroups == matrices
    assert backward.groupby(backward.component.str.split(".tile").str[0]).ngroups == matrices - 1
    assert forward.start_ps.max() < backward.start_ps.min()


def test_evaluation_frequency_does_not_change_training():
    often = workload("vit_digits", steps=4).model_copy(deep=True)
    data = often.model_dump()
    data["training"]["eval_every"] = 1
    a = cosim.run(WorkloadSpec.model_validate(data), hardware())
    b = cosim.run(often, hardware())
    for ma, mb in zip(a.runs, b.runs):
        np.testing.assert_array_equal(ma.loss, mb.loss)
        assert ma.scores[-1] == mb.scores[-1]


def test_image_tasks_score_psnr_and_report_the_input_baseline():
    wl = workload("dncnn_denoise")
    result = cosim.run(wl, hardware())
    assert result.summary["methods"]["ideal"]["metric"]["name"] == "test_psnr_db"
    assert set(result.summary["methods"]["ideal"]["scores"]) == {"test_psnr_db", "test_ssim"}
    noisy_psnr = result.summary["input_baseline"]["test_psnr_db"]
    # σ = 25/255 noise on [0, 1] images: PSNR = 20·log10(1/σ) ≈ 20.2 dB
    assert noisy_psnr == pytest.approx(20 * np.log10(255 / 25), abs=0.3)


@pytest.mark.parametrize("data, network, needle", [
    ({"dataset": "digits"}, {"arch": "dncnn", "params": {"depth": 3, "channels": 4, "patch": 8}}, "64 input values"),
    ({"dataset": "denoise", "patch": 16}, {"arch": "dncnn", "params": {"depth": 3, "channels": 4, "patch": 12}},
     "needs input (1, 16, 16)"),
    ({"dataset": "sr_x2", "patch": 16}, {"arch": "espcn", "params": {"widths": [4, 4], "patch": 16}},
     "needs input (1, 8, 8)"),
])
def test_network_that_does_not_fit_the_data_is_rejected(data, network, needle):
    with pytest.raises(ValueError, match="does not fit") as err:
        WorkloadSpec.model_validate({"name": "x", "data": data, "network": network, "training": {"steps": 1}})
    assert needle in str(err.value)


def test_backward_on_host_prices_digital_products_instead_of_transposed_reads():
    data = workload("resnet_digits", methods=("bp_open_loop",)).model_dump()
    data["training"]["backward_on"] = "host"
    on_host = cosim.run(WorkloadSpec.model_validate(data), hardware())
    on_tiles = cosim.run(workload("resnet_digits", methods=("bp_open_loop",)), hardware())
    tx_host, tx_tiles = (r.runs[0].ledger.transactions() for r in (on_host, on_tiles))
    assert not ((tx_host.kind == "tile") & (tx_host.op == "backward")).any()
    assert ((tx_tiles.kind == "tile") & (tx_tiles.op == "backward")).any()
    assert (tx_host.op == "backward_matmul").any() and not (tx_tiles.op == "backward_matmul").any()
    # forward reads are the same work either way
    fwd = [((t.kind == "tile") & (t.op == "forward")).sum() for t in (tx_host, tx_tiles)]
    assert fwd[0] == fwd[1]


def test_conv_inputs_cross_the_bus_as_feature_maps_not_im2col_columns():
    wl = workload("dncnn_denoise", methods=("bp_open_loop",))
    hw = hardware(**HOST_CENTRIC)       # every layer's inputs cross the link
    result = cosim.run(wl, hw)
    tx = result.runs[0].ledger.transactions()
    sent = tx[(tx.step == 0) & (tx.op == "forward_in")].energy_j.sum()
    arch = wl.network.build()
    feature_maps = sum(int(np.prod(n.in_shape)) for n in arch.nodes() if n.op == "conv2d")
    expected = wl.training.batch_size * feature_maps * hw.bus.weight_bits * hw.bus.energy_per_bit
    assert sent == pytest.approx(expected, rel=1e-9)
