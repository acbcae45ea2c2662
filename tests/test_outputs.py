"""What a run leaves behind for a reader: provenance, comparison, seeds, the report's layout."""
import json

import pytest

from cosim.api import run, write_outputs
from cosim.cli import main
from cosim.specs.hardware import load_hardware
from cosim.specs.provenance import config_hash
from cosim.specs.workload import load_workload
from tests.conftest import HW_FILE, ROOT, WL_FILE


def edited_chip(tmp_path, old="  bits: 8\n", new="  bits: 6\n"):
    """A copy of the default chip that keeps its name but changes one field (here adc.bits)."""
    text = HW_FILE.read_text()
    assert text.count(old) >= 1
    path = tmp_path / "my_chip.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_outputs_hold_the_resolved_specs_their_hash_and_the_changed_fields(tmp_path):
    chip = edited_chip(tmp_path)
    result = run(WL_FILE, chip, methods=["eapu"], steps=2)
    out = write_outputs(result, tmp_path / "out")
    summary = json.loads((out / "summary.json").read_text())
    wl, hw = load_workload(out / "workload.yaml"), load_hardware(out / "hardware.yaml")
    assert (wl, hw) == (result.workload, result.hardware)          # the files load back as trained
    assert summary["config_hash"] == config_hash(wl, hw) == summary["provenance"]["config_hash"]
    assert summary["hardware"] == "rram_180nm"                     # the name alone hides the edit ...
    diffs = {d["field"]: (d["preset"], d["run"]) for d in summary["provenance"]["hardware"]["differences"]}
    changed = [f for f, (a, b) in diffs.items() if f.startswith("adc.")]
    assert changed and all(diffs[f] == (8, 6) for f in changed)    # ... the provenance shows it
    assert summary["provenance"]["hardware"]["preset"] == "hardware_specs/rram_180nm.yaml"
    workload_diffs = {d["field"] for d in summary["provenance"]["workload"]["differences"]}
    assert workload_diffs == {"methods", "training.steps"}         # the command-line overrides
    report = (out / "report.md").read_text()
    assert "## Configuration" in report and summary["config_hash"] in report
    assert f"| hardware | {changed[0]} | 8 | 6 |" in report


def test_a_preset_that_extends_another_is_compared_with_it(tmp_path):
    from cosim.report.provenance import provenance

    pcm = ROOT / "hardware_specs" / "pcm.yaml"
    prov = provenance(load_workload(WL_FILE), load_hardware(pcm), WL_FILE, pcm)
    assert prov["hardware"]["preset"] == "hardware_specs/rram_180nm.yaml"
    fields = {d["field"] for d in prov["hardware"]["differences"]}
    assert {"name", "device.model", "device.drift_nu"} <= fields
    assert not any(f.endswith("sources") or "description" in f for f in fields)
    assert prov["workload"]["differences"] == []


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The default chip and an edited copy (adc.bits 6), both briefly trained with two rules."""
    tmp = tmp_path_factory.mktemp("runs")
    folders = []
    for name, chip in (("default", HW_FILE), ("edited", edited_chip(tmp))):
        result = run(WL_FILE, chip, methods=["bp_open_loop", "eapu"], steps=3)
        folders.append(write_outputs(result, tmp / name))
    return folders


def test_compare_shows_metrics_with_ratios_and_the_spec_differences(two_runs, capsys):
    a, b = two_runs
    assert main(["compare", str(a), str(b)]) == 0
    text = capsys.readouterr().out
    assert f"A: {a}" in text and f"B: {b}" in text
    assert "hardware.adc.bits" in text and "×)" in text
    assert main(["compare", str(a), str(b), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    energy = next(r for r in result["metrics"] if r["method"] == "eapu" and r["quantity"] == "energy")
    summaries = [json.loads((f / "summary.json").read_text()) for f in (a, b)]
    values = [s["methods"]["eapu"]["energy_j"]["total"] for s in summaries]
    assert energy["values"] == values and energy["ratios"] == [1.0, values[1] / values[0]]
    assert [d["field"] for d in result["spec_differences"]] == ["hardware.adc.bits"]
    assert result["spec_differences"][0]["values"] == [8, 6]


def test_compare_refuses_a_folder_that_is_not_a_run(two_runs, tmp_path, capsys):
    assert main(["compare", str(two_runs[0]), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a run folder" in err and "Traceback" not in err
