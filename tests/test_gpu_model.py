"""Time and energy model of the GPU baseline: shape of the curves, bands, calibration."""
import pytest

from cosim.gpu.calibrate import fit, leave_one_out, load_workloads
from cosim.gpu.model import Calibration, estimate_step, estimate_training
from cosim.arch import dncnn, espcn, mlp, resnet, vit
from cosim.specs.gpu import load_calibration, load_gpu

H200 = load_gpu("h200")
CAL = Calibration.load()


@pytest.mark.parametrize("arch", [mlp([784, 256, 128, 10], "relu"), dncnn(5, 16, patch=20),
                                  espcn(), resnet(8, "cifar"), vit(32, 8, 64, 2, 2, classes=10)],
                         ids=lambda a: a.name)
def test_time_and_energy_grow_with_batch(arch):
    est = [estimate_step(arch, b, H200, CAL) for b in (1, 4, 16, 64, 256, 1024)]
    for small, big in zip(est, est[1:]):
        assert big.time_s_per_step >= small.time_s_per_step
        assert big.energy_j_per_step >= small.energy_j_per_step
        assert big.flops_per_step > small.flops_per_step
    # per sample, a bigger batch is never dearer (fixed overheads are shared)
    per_sample = [e.time_s_per_step / e.batch_size for e in est]
    assert per_sample == sorted(per_sample, reverse=True)


def test_bands_are_ordered_and_energy_capped_by_tdp():
    for name in ("h200", "a100", "v100", "rtx4090", "orin", "h100"):
        gpu = load_gpu(name)
        for arch, batch in ((mlp([784, 256, 128, 10], "relu"), 64), (resnet(18, "cifar"), 128)):
            est = estimate_step(arch, batch, gpu, CAL)
            b = est.bands
            assert b["floor"] < b["calibrated"] <= b["tdp_x_time"]
            assert est.energy_j_per_step >= gpu.idle_power * est.time_s_per_step


def test_tiny_nets_are_launch_bound_and_big_ones_compute_bound():
    tiny = estimate_step(mlp([64, 64, 10]), 32, H200, CAL)
    assert tiny.bound == "host (launch)"
    assert tiny.time_s_per_step > 100 * tiny.flops_per_step / H200.peak_fp32
    big = estimate_step(resnet(18, "imagenet", classes=1000), 256, H200, CAL)
    assert big.bound == "gpu (compute)"


def test_slower_gpu_is_slower_on_a_compute_bound_net():
    arch = resnet(18, "cifar")
    times = {n: estimate_step(arch, 128, load_gpu(n), CAL).time_s_per_step
             for n in ("h200", "a100", "v100", "orin")}
    assert times["h200"] < times["a100"] < times["v100"] < times["orin"]


def test_precision_modes_order_conv_net_time():
    arch = dncnn(17, 64, patch=40)
    t = {p: estimate_step(arch, 128, H200, CAL, precision=p).time_s_per_step
         for p in ("fp32", "pytorch_default", "bf16")}
    assert t["bf16"] < t["pytorch_default"] < t["fp32"]
    with pytest.raises(ValueError):
        estimate_step(arch, 1, H200, CAL, precision="fp8")


def test_training_summary_scales_with_steps():
    s = estimate_training(mlp([64, 64, 10]), 32, 400, H200, CAL)
    assert s["time_s_run"] == pytest.approx(400 * s["time_s_per_step"])
    assert s["energy_j_run"] == pytest.approx(400 * s["energy_j_per_step"])
    assert set(s["bands"]) == {"floor", "calibrated", "tdp_x_time"}
    assert s["bands_run"]["tdp_x_time"] == pytest.approx(400 * s["bands"]["tdp_x_time"])
    with pytest.raises(ValueError):
        estimate_training(mlp([64, 10]), 32, 0, H200, CAL)


def test_committed_calibration_reproduces_the_measured_steps_within_25_percent():
    for w in load_workloads():
        est = estimate_step(w.arch, w.batch_size, H200, CAL)
        assert abs(est.time_s_per_step / w.step_time_s - 1) < 0.25, w.name
        assert abs(est.energy_j_per_step / w.energy_j_per_step - 1) < 0.25, w.name


def test_committed_calibration_is_what_the_fit_gives_today():
    """calibration.yaml must be regenerated (python -m cosim.gpu.calibrate) after model changes."""
    refit = fit(load_workloads(), H200)
    for name, value in CAL.fitted.model_dump().items():
        assert getattr(refit.fitted, name) == pytest.approx(value, rel=1e-3), name


def test_leave_one_out_in_the_file_matches_a_fresh_run():
    recorded = load_calibration().leave_one_out
    fresh = leave_one_out(load_workloads(), H200)
    assert set(recorded) == set(fresh)
    for name, row in fresh.items():
        assert recorded[name]["time_rel_error"] == pytest.approx(row["time_rel_error"], abs=1e-3)
