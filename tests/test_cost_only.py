"""Cost-only mode: shapes-only work agrees with the training core, the update statistics are
what they claim, and the command behaves."""
import copy
import json
import math
from collections import Counter

import numpy as np
import pytest

from tests.conftest import ROOT, WL_FILE, hardware
from cosim.cli import main
from cosim.arch import build_arch
from cosim.nn.tasks import load_task
from cosim.sim.cost_only import (CostModel, expected_eapu_fraction, mean_pair_conductance,
                                 update_sigma)
from cosim.nn.records import HostWork, MvmOp
from cosim.nn.work import step_work
from cosim.sim.training import Trainer
from cosim.specs.base import read_yaml
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec

COST_CIFAR = ROOT / "workloads" / "cost_resnet18_cifar.yaml"
STATS = {"update_scale": 2e-3, "update_scale_source": "test"}

# Small networks that train on digits (64 inputs, 10 classes), one per family.
DIGIT_NETS = {
    "mlp": {"widths": [64, 16, 10], "activation": "relu"},
    "resnet": {"depth": 8, "dataset": "cifar", "classes": 10, "base_width": 4, "image_size": 8,
               "image_channels": 1},
    "vit": {"image_size": 8, "patch": 4, "dim": 8, "depth": 1, "heads": 2, "classes": 10,
            "image_channels": 1},
}


def small_cost_raw() -> dict:
    """The shipped CIFAR ResNet-18 cost workload shrunk to a ResNet-8 at batch 8 (fast)."""
    raw = read_yaml(COST_CIFAR)
    raw["network"]["params"].update({"depth": 8, "base_width": 8})
    raw["training"]["batch_size"] = 8
    return raw


def digits_workload(arch: str, params: dict, method: str, batch: int = 5) -> WorkloadSpec:
    raw = copy.deepcopy(read_yaml(WL_FILE))
    raw["network"] = {"arch": arch, "params": params}
    raw["training"].update({"steps": 1, "batch_size": batch})
    raw["methods"] = [method]
    raw["cost_only"] = STATS
    return WorkloadSpec.model_validate(raw)


def real_step_entries(wl: WorkloadSpec, hw) -> list:
    """The tape entries one real training step of the training core replays."""
    arch = wl.network.build()
    trainer = Trainer(wl.methods[0], wl, hw, load_task(wl.data, arch.input_shape))
    if trainer.state.rule.analog:   # what the skipped setup step would program, placed exactly
        for name, matrix in trainer.state.matrices.items():
            matrix.devices.set_exact(trainer.state.initial[name] / matrix.weight_bound)
    entries = []

    def record(step_entries):
        entries.extend(step_entries)
        yield from ()
    trainer.chip.replay = record
    trainer._update = lambda step: iter(())
    for _ in trainer._train_step(0):
        pass
    return entries


def host_totals(entries) -> Counter:
    totals = Counter()
    for e in entries:
        if isinstance(e, HostWork):
            totals[(e.op, "macs")] += e.macs
            totals[(e.op, "ops")] += e.ops
    return totals


def mvm_signature(entries, skip_phases_of=()) -> Counter:
    """What prices an MVM except its conductance load (which the cost-only mode estimates)."""
    ops = [e for e in entries if isinstance(e, MvmOp)]
    return Counter((op.direction, op.vectors, op.slices, tuple(op.rows_used), tuple(op.cols_used),
                    op.in_features, op.out_features,
                    None if op.matrix in skip_phases_of else op.phases) for op in ops)


@pytest.mark.parametrize("arch", sorted(DIGIT_NETS))
def test_digital_work_matches_a_real_training_step(arch):
    """Ideal rule: every product and all other digital work on the host, counted alike."""
    wl = digits_workload(arch, DIGIT_NETS[arch], "ideal")
    hw = hardware()
    shapes = step_work(build_arch(arch, **DIGIT_NETS[arch]), wl.training.batch_size, hw, 0.5,
                         1e-5, digital=True)
    assert host_totals(shapes.records) == \
        host_totals(real_step_entries(wl, hw))


@pytest.mark.parametrize("arch", sorted(DIGIT_NETS))
def test_tile_work_matches_a_real_training_step(arch):
    """On tiles: the same MVMs (vectors, slices, tile blocks, input phases) and host work; digits
    pixels are non-negative, so the first layer drives one input phase in both."""
    wl = digits_workload(arch, DIGIT_NETS[arch], "bp_open_loop")
    hw = hardware()
    shapes = step_work(build_arch(arch, **DIGIT_NETS[arch]), wl.training.batch_size, hw, 0.5, 1e-5,
                         input_nonnegative=wl.input_nonnegative)
    real = real_step_entries(wl, hw)
    ours = shapes.records
    assert mvm_signature(ours) == mvm_signature(real)
    assert host_totals(ours) == host_totals(real)


@pytest.mark.parametrize("dataset", ["digits", "denoise", "sr_x2"])
def test_declared_input_sign_matches_the_data(dataset):
    """DataSpec.input_nonnegative (what cost-only uses without loading data) is what the arrays show."""
    from cosim.specs.workload import DataSpec
    data = DataSpec(dataset=dataset, patch=8, train_patches=64, test_patches=8)
    assert load_task(data, (64,)).input_nonnegative == data.input_nonnegative


def test_host_parameter_count_matches_the_built_network():
    from cosim.nn.build import build_network
    from cosim.nn.matrix import DigitalMatrix
    for arch, params in DIGIT_NETS.items():
        a = build_arch(arch, **params)
        net = build_network(a, lambda name, w: DigitalMatrix(w), np.random.default_rng(0))
        shapes = step_work(a, 2, hardware(), 0.5, 1e-5)
        assert shapes.host_params == sum(p.value.size for p in net.host_params()), arch


def test_expected_eapu_fraction_against_monte_carlo_and_limits():
    rng = np.random.default_rng(1)
    for sigma, threshold in [(1e-3, 0.037), (0.02, 0.037), (0.1, 0.037)]:
        dw = rng.normal(0.0, sigma, 2_000_000)
        mc = np.minimum(1.0, np.abs(dw) / threshold).mean()
        assert expected_eapu_fraction(sigma, threshold) == pytest.approx(mc, rel=5e-3)
    # Small updates: the fraction is E|ΔW| / Δw_th; huge updates: every weight is written.
    assert expected_eapu_fraction(update_sigma(1e-4, 1.0), 0.037) == pytest.approx(1e-4 / 0.037, rel=1e-6)
    assert expected_eapu_fraction(100.0, 0.037) > 0.999


def test_sample_tiles_write_the_expected_eapu_fraction():
    wl = digits_workload("mlp", DIGIT_NETS["mlp"], "eapu")
    raw = wl.model_dump()
    raw["rules"]["eapu"]["compensate_asymmetry"] = False   # p against the nominal step
    wl = type(wl).model_validate(raw)
    hw = hardware()
    model = CostModel(wl, hw)
    sample = model.sample("eapu", (128, 128))
    cells = 2 ** 17                         # SAMPLE_CELLS: 8 tiles of 128 x 128
    fraction = sample.plan_cells / (128 * 128)
    step = round(hw.device.write_noise * hw.device.levels) / hw.device.levels   # whole pulses nearest σ
    assert model.eapu_threshold() == pytest.approx(step)
    expected = expected_eapu_fraction(update_sigma(STATS["update_scale"], 1.0), step)
    assert fraction == pytest.approx(expected, abs=4 * math.sqrt(expected / cells))
    assert sample.actions["program_pulse"][0] == pytest.approx(sample.pulses)
    assert sample.latency_s > 0


def test_resnet18_cifar_weights_on_tiles():
    shapes = step_work(build_arch("resnet", depth=18, dataset="cifar"), 2, hardware(), 0.5, 1e-5)
    # CIFAR ResNet-18 (11,173,962 parameters): conv weights + the 512 x 10 classifier, no BN or bias
    assert shapes.weights == 11_159_232 + 5_120


def test_estimate_of_a_shapes_only_workload_is_consistent():
    wl = WorkloadSpec.model_validate(small_cost_raw())
    hw = hardware(device={"rounding": "at_least_one"})   # every nonzero update gets a pulse
    model = CostModel(wl, hw)
    shapes = step_work(model.arch, 2, hw, 0.5, mean_pair_conductance(hw, 0.25))
    tiles = sum(math.ceil(m.tile_map.in_features / 128) * math.ceil(m.tile_map.out_features / 128)
                for m in shapes.matrices.values())
    ideal, bp, eapu = (model.estimate(m) for m in ("ideal", "bp_open_loop", "eapu"))
    assert bp.tiles == eapu.tiles == tiles and ideal.tiles == 0
    assert bp.weights == shapes.weights
    assert bp.writes["cells_written"] == bp.weights  # Gaussian updates are never exactly zero
    assert 0 < eapu.writes["cells_written"] < 0.2 * bp.writes["cells_written"]
    for est in (bp, eapu):
        by_action = est.train_ledger.energy_by_action()
        tx = est.train_ledger.transactions()
        assert sum(by_action.values()) == pytest.approx(tx.energy_j.sum())
        assert by_action["program_pulse"] > 0 and by_action["adc_conversion"] > 0
        assert 0 < est.inference_latency_s < est.train_latency_s
        assert tx.end_ps.max() * 1e-12 == pytest.approx(est.train_latency_s)
    assert eapu.train_ledger.energy_by_action()["program_pulse"] < bp.train_ledger.energy_by_action()["program_pulse"]


def test_estimates_do_not_depend_on_the_order_of_methods():
    wl = WorkloadSpec.model_validate(small_cost_raw())
    a = CostModel(wl, hardware()).estimate("eapu")
    model = CostModel(wl, hardware())
    model.estimate("bp_open_loop")
    b = model.estimate("eapu")
    assert a.writes == b.writes and a.train_latency_s == b.train_latency_s


def test_cost_command_json_and_files(tmp_path, capsys):
    out = tmp_path / "cost"
    assert main(["cost", _write(tmp_path, small_cost_raw()), "--methods", "bp_open_loop,eapu", "--json", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["methods"]) == {"bp_open_loop", "eapu"}
    assert summary == json.loads((out / "cost.json").read_text())
    ratios = summary["chip_vs_gpu"]["eapu"]["h200"]
    assert ratios["chip"] > ratios["chip_bus"] >= ratios["chip_bus_host"] > 0   # the default chip's host idles
    assert "| eapu |" in (out / "cost.md").read_text()
    wear = {m: summary["methods"][m]["wear"]["steps_to_median_endurance"] for m in ("bp_open_loop", "eapu")}
    # EaPU writes ~5 % of the weights per step; bp (nearest pulse rounding) those whose update
    # reaches half a pulse step
    assert wear["eapu"] > wear["bp_open_loop"] > 0


def test_run_cost_only_is_the_cost_command(tmp_path, capsys):
    assert main(["run", _write(tmp_path, small_cost_raw()), "--cost-only", "--methods", "eapu", "--quiet"]) == 0
    assert "eapu" in capsys.readouterr().out


def _write(tmp_path, raw) -> str:
    import yaml
    path = tmp_path / "wl.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_shapes_only_workload_without_statistics_is_rejected(tmp_path, capsys):
    raw = read_yaml(COST_CIFAR)
    del raw["cost_only"]
    path = _write(tmp_path, raw)
    assert main(["cost", path]) == 2
    err = capsys.readouterr().err
    assert path in err and "cost_only" in err and "Traceback" not in err


def test_bad_update_scale_names_file_and_field(tmp_path, capsys):
    raw = read_yaml(COST_CIFAR)
    raw["cost_only"]["update_scale"] = -1
    path = _write(tmp_path, raw)
    assert main(["cost", path]) == 2
    err = capsys.readouterr().err
    assert path in err and "cost_only.update_scale" in err


def test_training_a_shapes_only_workload_is_a_clear_error(capsys):
    assert main(["run", str(COST_CIFAR), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "data" in err and "cosim cost" in err


def test_cost_needs_its_statistics_even_with_data(capsys):
    assert main(["cost", str(WL_FILE)]) == 2
    assert "cost_only" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cost_resnet50_imagenet", "cost_vit_b16", "cost_resnet18_imagenet"])
def test_full_size_estimates_take_under_10_s_per_method(name):
    wl = WorkloadSpec.model_validate(read_yaml(ROOT / "workloads" / f"{name}.yaml"))
    model = CostModel(wl, hardware())
    for method in wl.methods:
        assert model.estimate(method).wall_s < 10.0


def test_stateful_rules_are_refused_and_manhattan_is_priced(tmp_path, capsys):
    path = _write(tmp_path, small_cost_raw())
    assert main(["cost", path, "--methods", "mixed_precision", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--methods" in err and "mixed_precision" in err and "Traceback" not in err
    assert main(["cost", path, "--methods", "manhattan,eapu_adaptive", "--json"]) == 0
    methods = json.loads(capsys.readouterr().out)["methods"]
    assert methods["manhattan"]["train_step"]["writes"]["fraction_updated"] == 1.0
    assert 0 < methods["eapu_adaptive"]["train_step"]["writes"]["fraction_updated"] < 0.2


def test_a_detailed_fidelity_chip_is_estimated_at_transaction_level():
    wl = WorkloadSpec.model_validate(small_cost_raw())
    detailed = HardwareSpec.model_validate({**hardware().model_dump(), "fidelity": "detailed"})
    a = CostModel(wl, detailed).estimate("eapu")
    b = CostModel(wl, hardware()).estimate("eapu")
    assert a.train_latency_s == b.train_latency_s and a.writes == b.writes
