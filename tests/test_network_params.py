"""Typed architecture parameters (issue 15): each builder's parameters are a model."""
import inspect
import subprocess
import sys

import pytest

from cosim.arch import BUILDERS
from cosim.specs.base import SpecError
from cosim.specs.network import ARCH_PARAMS
from cosim.specs.workload import load_workload
from tests.conftest import ROOT

DENOISE = ROOT / "workloads" / "eapu_paper_denoise.yaml"


def test_every_architecture_has_a_parameter_model_matching_its_builder():
    assert set(ARCH_PARAMS) == set(BUILDERS)
    for name, builder in BUILDERS.items():
        signature = inspect.signature(builder).parameters
        fields = ARCH_PARAMS[name].model_fields
        assert list(fields) == list(signature), name
        for field, parameter in signature.items():
            if parameter.default is inspect.Parameter.empty:
                assert fields[field].is_required(), (name, field)
            else:
                assert fields[field].get_default(call_default_factory=True) == parameter.default, (name, field)


@pytest.mark.parametrize("old, new, field, words", [
    ("channels: 32", "channels: not-a-number", "network.params.channels", "valid integer"),
    ("channels: 32", "chanels: 32", "network.params.chanels", "unknown key"),
    ("depth: 5", "depth: 1", "network.params.depth", "greater than or equal to 2"),
    ("batch_norm: true", "batch_norm: [1]", "network.params.batch_norm", "boolean"),
    ("arch: dncnn", "arch: dncn", "network.arch", "unknown architecture"),
])
def test_bad_network_parameters_name_file_and_field(tmp_path, old, new, field, words):
    text = DENOISE.read_text()
    assert old in text
    path = tmp_path / "wl.yaml"
    path.write_text(text.replace(old, new))
    with pytest.raises(SpecError) as err:
        load_workload(path)
    assert f"{path}: {field}: " in str(err.value) and words in str(err.value)
    proc = subprocess.run([sys.executable, "-m", "cosim", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2 and field in proc.stderr and "Traceback" not in proc.stderr


def test_parameters_are_validated_and_kept_typed():
    wl = load_workload(DENOISE)
    assert wl.network.params.channels == 32 and wl.network.params.image_channels == 1
    assert wl.network.model_dump()["params"]["channels"] == 32     # dumps (and fingerprints) keep them
    assert wl.network.build().name == "dncnn5_32"
