"""Python API and CLI overrides by dotted path, loaders that resolve like the CLI, typed errors (issue 15)."""
import subprocess
import sys

import pytest

import cosim
from cosim.specs.base import SpecError, SpecTypeError
from cosim.specs.hardware import load_hardware
from cosim.specs.overrides import OverrideError, apply_overrides, parse_assignment
from cosim.specs.workload import load_workload


@pytest.fixture(scope="module")
def specs():
    return load_workload("digits_mlp"), load_hardware("rram_180nm")


def test_overrides_replace_fields_and_their_source_notes(specs):
    wl, hw = apply_overrides(*specs, {"hardware.adc.bits": 6, "workload.training.learning_rate": 0.05,
                                      "hardware.device.g_max": "50 uS"})
    assert hw.adc.bits == 6 and wl.training.learning_rate == 0.05
    assert hw.device.g_max == pytest.approx(50e-6)
    assert hw.adc.sources["bits"] == "override (set)"
    assert apply_overrides(*specs, None) == specs


@pytest.mark.parametrize("overrides, field, words", [
    ({"hardware.adc.bitz": 6}, "hardware.adc.bitz", "unknown key"),
    ({"hardware.adc.bits": "six"}, "hardware.adc.bits", "valid integer"),
    ({"hardware.device.g_max": 40}, "hardware.device.g_max", "write the unit, e.g. '40 uS'"),
    ({"adc.bits": 6}, "adc.bits", "dotted path starting hardware. or workload."),
    ({"hardware.tile.rows.x": 3}, "hardware.tile.rows.x", "not a mapping"),
    ({"workload.network.params.widths": [64, "x", 10]}, "workload.network.params.widths", "integer"),
])
def test_bad_overrides_are_override_errors_naming_the_path(specs, overrides, field, words):
    with pytest.raises(OverrideError) as err:
        apply_overrides(*specs, overrides)
    assert isinstance(err.value, SpecError)
    assert f"set: {field}" in str(err.value) and words in str(err.value)


def test_cli_assignments_are_read_as_yaml():
    assert parse_assignment("hardware.adc.bits=6") == ("hardware.adc.bits", 6)
    assert parse_assignment("hardware.device.g_max=40 uS") == ("hardware.device.g_max", "40 uS")
    assert parse_assignment("workload.network.params.widths=[64, 32, 10]")[1] == [64, 32, 10]
    with pytest.raises(OverrideError, match="expected PATH=VALUE"):
        parse_assignment("hardware.adc.bits")


def test_run_takes_set_and_records_it_in_the_provenance():
    result = cosim.run("digits_mlp", hardware="rram_180nm", methods=["ideal"], steps=1,
                       set={"hardware.adc.bits": 6})
    assert result.hardware.adc.bits == 6
    assert {"field": "adc.bits", "preset": 8, "run": 6} in result.summary["provenance"]["hardware"]["differences"]


@pytest.mark.parametrize("kwargs, error, words", [
    ({"workload": 42}, SpecTypeError, "workload: expected a preset name"),
    ({"hardware": load_workload("digits_mlp")}, SpecTypeError, "hardware: expected a HardwareSpec"),
    ({"steps": "ten"}, SpecTypeError, "steps: expected an integer"),
    ({"steps": 0}, OverrideError, "training.steps"),
    ({"set": "hardware.adc.bits=6"}, SpecTypeError, "expected a mapping of dotted paths"),
    ({"set": {"hardware.adc.bits": 99}}, OverrideError, "hardware.adc.bits"),
])
def test_api_misuse_raises_typed_errors_not_raw_type_errors(kwargs, error, words):
    with pytest.raises(error, match=words):
        cosim.run(**{"methods": ["ideal"], "steps": 1, **kwargs})


def test_cli_set_exits_2_with_the_path_on_a_bad_value(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "cosim", "run", "--steps", "1", "--methods", "ideal", "--quiet",
                           "--out", str(tmp_path / "o"), "--set", "hardware.adc.bits=six"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "hardware.adc.bits" in proc.stderr and "integer" in proc.stderr
