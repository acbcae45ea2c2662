"""GPU spec files: the shipped ones load, bad ones fail naming file, field and rule."""
from pathlib import Path

import pytest
import yaml

from cosim.specs.base import SpecError
from cosim.specs.gpu import GPU_DIR, load_calibration, load_gpu
from cosim.units import parse_quantity

SHIPPED = ["v100", "a100", "h100", "h200", "rtx4090", "orin"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_gpus_load_with_a_source_for_every_number(name):
    gpu = load_gpu(name)
    assert gpu.peak_bf16 > gpu.peak_fp32 > 1e12
    assert 1e11 <= gpu.memory_bandwidth <= 1e13
    assert gpu.idle_power < gpu.tdp
    assert all(note.strip() for note in gpu.sources.values())


def test_units_of_gpu_numbers():
    assert parse_quantity("4.8 TB/s", "byte_bandwidth") == pytest.approx(4.8e12)
    assert parse_quantity("989 TFLOP/s", "flop_rate") == pytest.approx(9.89e14)
    assert load_gpu("h200").l2_size == pytest.approx(50e6)
    assert load_gpu("h200").kernel_launch_overhead == pytest.approx(3e-6)


def write_variant(tmp_path: Path, **changes) -> Path:
    data = yaml.safe_load((GPU_DIR / "h200.yaml").read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("changes, field, rule", [
    ({"memory_bandwidth": "4.8 TW"}, "memory_bandwidth", "is a power, expected a byte_bandwidth"),
    ({"tdp": "-700 W"}, "tdp", "must be >= 0"),
    ({"idle_power": "800 W"}, "", "idle_power (800.0 W) must be below tdp"),
    ({"peak_fp32": None}, "peak_fp32", "required key is missing"),
    ({"clock": "2 GHz"}, "clock", "unknown key"),
    ({"sources": {"tdp": "x"}}, "", "every number needs a source note"),
])
def test_bad_gpu_files_name_file_field_and_rule(tmp_path, changes, field, rule):
    path = write_variant(tmp_path, **changes)
    with pytest.raises(SpecError) as err:
        load_gpu(path)
    message = str(err.value)
    assert str(path) in message and rule in message
    assert any(f == field or f.startswith(field) for f, _ in err.value.problems)


def test_unknown_gpu_name_lists_the_known_ones():
    with pytest.raises(SpecError, match="no gpu preset named 'b200'.*h200"):
        load_gpu("b200")


def test_calibration_file_loads_and_records_its_fit():
    cal = load_calibration()
    assert set(cal.residuals) == set(cal.fitted_on) == set(cal.leave_one_out)
    assert 0 < cal.fitted.tensor_core_efficiency <= 1
