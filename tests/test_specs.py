import subprocess
import sys

import pytest

from cosim.specs.base import SpecError
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload
from cosim.units import UnitError, parse_quantity
from tests.conftest import HW_FILE, WL_FILE, hardware


@pytest.mark.parametrize("text, dimension, expected", [
    ("100 ns", "time", 100e-9), ("40 uS", "conductance", 40e-6), ("2.5 pJ", "energy", 2.5e-12),
    ("3.2 Gb/s", "bandwidth", 3.2e9), ("0.2 V", "voltage", 0.2), (7, None, 7.0), ("1e-3", None, 1e-3)])
def test_quantities_parse_to_si(text, dimension, expected):
    assert parse_quantity(text, dimension) == pytest.approx(expected)


@pytest.mark.parametrize("text, dimension", [("100 parsecs", None), ("40 uS", "time"), ("fast", None), (True, None)])
def test_bad_quantities_are_rejected(text, dimension):
    with pytest.raises(UnitError):
        parse_quantity(text, dimension)


def test_default_files_load_with_si_values():
    hw = load_hardware(HW_FILE)
    assert hw.device.g_max == pytest.approx(40e-6)
    assert hw.device.pulse_width == pytest.approx(100e-9)
    assert hw.dac.slices == 8
    assert load_workload(WL_FILE).methods == ("ideal", "bp_open_loop", "write_verify", "eapu")


@pytest.mark.parametrize("chip", sorted(HW_FILE.parent.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_default_number_has_a_source(chip):
    hw = load_hardware(chip)
    for section in ("device", "tile", "dac", "adc", "write_verify", "eapu", "bus", "host"):
        spec = getattr(hw, section)
        numeric = [f for f, v in spec.model_dump().items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        missing = sorted(set(numeric) - set(spec.sources))
        assert not missing, f"{section} lacks sources for {missing}"


def _write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("edit, field, words", [
    (("g_max: 40 uS", "g_max: 40 uS\n  g_maximum: 3"), "device.g_maximum", "unknown key"),
    (("g_min: 1 uS", "g_min: -1 uS"), "device.g_min", "must be > 0"),
    (("rows: 128", "rows: many"), "tile.rows", "integer"),
    (("pulse_width: 100 ns", "pulse_width: 100 uS"), "device.pulse_width", "conductance"),
    (("g_min: 1 uS", "g_min: 50 uS"), "device", "g_max"),
    (("columns_per_adc: 8", "columns_per_adc: 512"), "(top level)", "columns_per_adc"),
])
def test_bad_hardware_names_file_field_and_rule(tmp_path, edit, field, words):
    text = HW_FILE.read_text().replace(*edit)
    path = _write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_hardware(path)
    message = str(err.value)
    assert str(path) in message and field in message and words in message


def test_not_yaml_and_object_tags_are_rejected(tmp_path):
    for text in ["device: [unclosed", "!!python/object/apply:os.system ['echo hi']", "- just\n- a list"]:
        with pytest.raises(SpecError) as err:
            load_hardware(_write(tmp_path, text))
        assert "spec.yaml" in str(err.value)


def test_unknown_method_in_workload(tmp_path):
    path = _write(tmp_path, WL_FILE.read_text().replace("methods: [ideal,", "methods: [idael,"))
    with pytest.raises(SpecError, match="methods: unknown method"):
        load_workload(path)


@pytest.mark.parametrize("command", [["validate"], ["run", "--steps", "2", "--hardware"]])
def test_cli_bad_file_exits_2_without_traceback(tmp_path, command):
    bad = _write(tmp_path, "device: {g_min: -1 uS}\nname: x\n", "bad.yaml")
    proc = subprocess.run([sys.executable, "-m", "cosim", *command, str(bad)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "bad.yaml" in proc.stderr and "device.g_min" in proc.stderr


def test_cli_unknown_method_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cosim", "run", "--steps", "2", "--methods", "ideal,sgdx",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2 and "sgdx" in proc.stderr and "Traceback" not in proc.stderr


def test_adc_energy_follows_the_survey_points_across_resolution():
    from cosim.specs.hardware import energy_scale
    # the 22 nm survey points the fit comes from: 0.46 / 0.53 / 0.85 pJ at 4 / 6 / 8 b
    for bits, pj in [(4, 0.46), (6, 0.53), (8, 0.85)]:
        assert 0.85 * energy_scale(bits, 8) == pytest.approx(pj, rel=0.02)
    four = hardware(adc={"bits": 4}).adc
    eight = hardware().adc
    assert eight.energy == eight.energy_per_conversion
    assert four.energy < eight.energy < hardware(adc={"bits": 10}).adc.energy
