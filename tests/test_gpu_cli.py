"""`cosim gpu-cost`: output, JSON and exit code 2 on bad input."""
import argparse
import json
from pathlib import Path

import pytest

from cosim.cli import COMMAND_MODULES, gpu_cost

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "workloads" / "digits_mlp.yaml"


def run_cli(argv, capsys):
    code = gpu_cost.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_registered_as_a_subcommand():
    assert "gpu_cost" in COMMAND_MODULES and gpu_cost.NAME == "gpu-cost"
    parser = argparse.ArgumentParser()
    gpu_cost.add_arguments(parser)
    assert parser.parse_args([str(DIGITS)]).gpu == "h200"


def test_text_output_has_every_figure_and_the_assumptions(capsys):
    code, out, _ = run_cli([str(DIGITS), "--gpu", "a100"], capsys)
    assert code == 0
    for needle in ("FLOPs/step", "bytes/step", "kernels/step", "time_s_per_step",
                   "energy_j_per_step", "floor", "calibrated", "tdp_x_time", "whole run",
                   "Assumptions", "A100"):
        assert needle in out


def test_json_output_and_gpu_given_as_a_path(capsys):
    code, out, _ = run_cli([str(DIGITS), "--gpu", str(ROOT / "hardware_specs/gpus/v100.yaml"),
                            "--json"], capsys)
    summary = json.loads(out)
    assert code == 0 and summary["gpu"] == "V100 SXM2" and summary["steps"] == 400
    assert summary["energy_j_run"] == pytest.approx(400 * summary["energy_j_per_step"])


@pytest.mark.parametrize("argv, message", [
    ([str(DIGITS), "--gpu", "tpu"], "no gpu preset named 'tpu'"),
    (["missing.yaml"], "file not found"),
])
def test_bad_input_is_one_message_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == "" and message in err and err.count("error:") == 1


def test_bad_workload_network_exits_2(tmp_path, capsys):
    text = DIGITS.read_text().replace("arch: mlp", "arch: lstm")
    path = tmp_path / "w.yaml"
    path.write_text(text)
    code, _, err = run_cli([str(path)], capsys)
    assert code == 2 and "unknown architecture 'lstm'" in err


def test_through_the_cosim_entry_point(capsys):
    """Needs every subcommand module of the CLI frame (run, validate arrive from main)."""
    import importlib.util
    from cosim.cli import main
    missing = [m for m in COMMAND_MODULES if importlib.util.find_spec(f"cosim.cli.{m}") is None]
    if missing:
        pytest.skip(f"CLI modules not on this branch yet: {missing}")
    assert main(["gpu-cost", str(DIGITS), "--gpu", "h200"]) == 0
    assert "time_s_per_step" in capsys.readouterr().out
    assert main(["gpu-cost", str(DIGITS), "--gpu", "nope"]) == 2
