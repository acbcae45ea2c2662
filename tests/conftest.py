import copy
from pathlib import Path

import pytest

from cosim.specs.base import read_yaml
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec

ROOT = Path(__file__).resolve().parents[1]
HW_FILE = ROOT / "hardware_specs" / "rram_180nm.yaml"
WL_FILE = ROOT / "workloads" / "digits_mlp.yaml"

NOISELESS_DEVICE = dict(write_noise=0.0, read_noise=0.0, stuck_fraction=0.0, levels=None,
                        nonlinearity_up=0.0, nonlinearity_down=0.0, step_spread=0.0)


def hardware(**sections) -> HardwareSpec:
    """The default chip with sections updated, e.g. hardware(device={"read_noise": 0}); a
    top-level scalar is set as given, e.g. hardware(fidelity="detailed")."""
    raw = copy.deepcopy(read_yaml(HW_FILE))
    for section, values in sections.items():
        if isinstance(values, dict):
            raw[section].update(values)
        else:
            raw[section] = values
    return HardwareSpec.model_validate(raw)


# The default chip without its activation buffer and near-array unit (rram_180nm_host_centric).
HOST_CENTRIC = dict(buffer=None, near_array=None)


def ideal_hardware() -> HardwareSpec:
    return hardware(device=NOISELESS_DEVICE, dac={"bits": None, "input_bits": None},
                    adc={"bits": None}, write_verify={"tolerance": 0.0})


def workload(steps=12, methods=("ideal", "bp_open_loop", "write_verify", "eapu"), **training) -> WorkloadSpec:
    raw = copy.deepcopy(read_yaml(WL_FILE))
    raw["training"].update({"steps": steps, "eval_every": 4, **training})
    raw["methods"] = list(methods)
    return WorkloadSpec.model_validate(raw)


@pytest.fixture(scope="session")
def small_run():
    """One short run of all four methods on the default chip, shared by several tests."""
    import cosim.api as api
    return api.run(workload(steps=12), hardware())
