"""Input checks of issue 15: plausible ranges of dimensioned fields, deep YAML, spec kinds."""
import subprocess
import sys

import pytest

from cosim.specs.base import Seconds, SpecError, quantity_rule
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload
from tests.conftest import HW_FILE, ROOT, WL_FILE

GPU_DIR = ROOT / "hardware_specs" / "gpus"


def _edited_chip(tmp_path, old, new):
    text = HW_FILE.read_text()
    assert old in text
    path = tmp_path / "chip.yaml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("old, new, field, words", [
    ("g_max: 40 uS", "g_max: 40", "device.g_max", "40 S is outside the plausible conductance range 1 nS to 10 mS"),
    ("g_max: 40 uS", "g_max: 40", "device.g_max", "write the unit, e.g. '40 uS'"),
    ("pulse_width: 100 ns", "pulse_width: 100", "device.pulse_width", "e.g. '100 ns'"),
    ("energy_per_conversion: 2.7 pJ", "energy_per_conversion: 2.7", "adc.energy_per_conversion", "e.g. '2.7 pJ'"),
    ("write_voltage: 2 V", "write_voltage: 200 V", "device.write_voltage", "10 mV to 20 V"),
    ("clock: 100 MHz", "clock: 100", "adc.clock", "frequency range"),
    ("g_max: 40 uS", "g_max: 40 S", "device.g_max", "outside the plausible"),
])
def test_implausible_quantities_name_file_field_and_range(tmp_path, old, new, field, words):
    path = _edited_chip(tmp_path, old, new)
    with pytest.raises(SpecError) as err:
        load_hardware(path)
    message = str(err.value)
    assert f"{path}: {field}: " in message and words in message


def test_plausible_plain_si_numbers_still_load(tmp_path):
    """A plain number is SI: 4e-5 (S) is the same chip as 40 uS."""
    path = _edited_chip(tmp_path, "g_max: 40 uS", "g_max: 4.0e-5")
    assert load_hardware(path).device.g_max == pytest.approx(load_hardware(HW_FILE).device.g_max)


def test_cli_refuses_an_implausible_number_with_exit_2(tmp_path):
    path = _edited_chip(tmp_path, "g_max: 40 uS", "g_max: 40")
    proc = subprocess.run([sys.executable, "-m", "cosim", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "device.g_max" in proc.stderr and "plausible" in proc.stderr


def test_per_field_ranges_are_typed_annotations():
    from cosim.specs.hardware import DeviceSpec
    rule = quantity_rule(DeviceSpec.model_fields["pulse_width"])
    assert (rule.unit, rule.lo, rule.hi) == ("s", pytest.approx(10e-12), pytest.approx(10e-3))
    assert quantity_rule(Seconds).hi == 1.0
    wide = quantity_rule(Seconds["1 ms", "1e10 s"])
    assert wide.check("3600 s") == 3600.0
    with pytest.raises(ValueError, match="outside"):
        wide.check(0.5e-3)


def test_every_shipped_spec_validates():
    files = sorted(str(p) for p in (ROOT / "hardware_specs").rglob("*.yaml"))
    files += sorted(str(p) for p in (ROOT / "workloads").rglob("*.yaml"))
    assert str(GPU_DIR / "calibration.yaml") in files
    proc = subprocess.run([sys.executable, "-m", "cosim", "validate", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "calibration.yaml: ok (CalibrationSpec" in proc.stdout


@pytest.mark.parametrize("text", ["a: " + "[" * 5000 + "]" * 5000,
                                  "network:\n  params: " + "{a: " * 3000 + "1" + "}" * 3000,
                                  "a: " + "[" * 40 + "]" * 40])
def test_deeply_nested_yaml_is_a_clear_error(tmp_path, text):
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "cosim", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    assert "deep.yaml" in proc.stderr and "nested deeper" in proc.stderr


@pytest.mark.parametrize("args, words", [
    (["run", str(ROOT / "hardware_specs" / "pcm.yaml")], "this is a hardware spec, not a workload: use --hardware"),
    (["run", "--hardware", str(WL_FILE)], "this is a workload, not a hardware spec"),
    (["run", str(ROOT / "workloads" / "sweeps" / "adc_bits_x_tile.yaml")], "this is a sweep file"),
    (["gpu-cost", str(WL_FILE), "--gpu", str(HW_FILE)], "this is a hardware spec, not a GPU spec"),
])
def test_a_file_in_the_wrong_place_says_where_it_belongs(tmp_path, args, words):
    proc = subprocess.run([sys.executable, "-m", "cosim", *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert words in proc.stderr


def test_loaders_check_the_kind_too():
    with pytest.raises(SpecError, match="this is a hardware spec"):
        load_workload(HW_FILE)
