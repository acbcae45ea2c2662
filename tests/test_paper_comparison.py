"""The paper comparison (cosim/report/paper.py) and the priced inference it uses."""
import math

import pytest

import cosim
from cosim.report.paper import comparison_rows, paper_comparison
from tests.conftest import hardware


def _method(total_by_action: dict, metric: float, first_failure, mean_writes: float, fraction: float,
            inference: dict | None = None, cell_writes: int = 10) -> dict:
    return {"metric": {"name": "test_psnr_db", "value": metric},
            "energy_j": {"total": sum(total_by_action.values()), "by_action": total_by_action},
            "writes": {"fraction_updated_per_step": fraction, "cell_writes": cell_writes},
            "lifetime": {"steps_to_first_cell_failure": first_failure, "mean_writes_per_cell": mean_writes},
            "inference": {"energy_j": {"total": sum(inference.values()), "by_action": inference}} if inference else {}}


def _summary(**methods) -> dict:
    return {"steps": 100, "methods": methods}


BP = _method({"adc_conversion": 1.0, "program_pulse": 8.0, "bus_transfer": 1.0}, 20.0, 1e4, 50.0, 0.9,
             {"adc_conversion": 2.0, "array_read": 1.0})
EAPU = _method({"adc_conversion": 1.0, "program_pulse": 0.5, "bus_transfer": 0.5}, 25.0, 2e6, 0.25, 4e-4,
               {"adc_conversion": 2.0, "array_read": 0.5})
WV = _method({"adc_conversion": 1.0, "program_pulse": 12.0, "verify_read": 3.0, "bus_transfer": 1.0}, 24.0,
             5e3, 80.0, 0.9, {"adc_conversion": 2.0, "array_read": 0.8})


def test_ratios_follow_the_method_numbers():
    c = paper_comparison(_summary(bp_open_loop=BP, eapu=EAPU, write_verify=WV))
    ours = c["ours"]
    assert ours["update_fraction"] == 4e-4
    assert ours["training_energy_bp"] == pytest.approx(10.0 / 2.0)
    assert ours["training_energy_wv"] == pytest.approx(17.0 / 2.0)
    assert ours["inference_energy_bp"] == pytest.approx(3.0 / 2.5)
    assert ours["inference_energy_wv"] == pytest.approx(2.8 / 2.5)
    assert ours["lifetime"] == pytest.approx(200.0)
    assert ours["mean_writes_bp_over_eapu"] == pytest.approx(200.0)
    assert ours["metric_difference"] == pytest.approx(5.0)
    assert ours["metric_gain_pct"] == pytest.approx(25.0)
    # the published figures ride along unchanged, apart from ours
    assert c["published"]["training_energy_bp"] == 50.54 and c["published"]["inference_energy_bp"] == 35.51


def test_floor_of_alike_actions_bounds_the_training_ratio():
    c = paper_comparison(_summary(bp_open_loop=BP, eapu=EAPU))
    ctx = c["context"]
    assert ctx["alike_actions_training"] == ["adc_conversion"]
    assert ctx["alike_share_bp"] == pytest.approx(0.1)
    assert c["ours"]["training_energy_bp"] <= 1.0 / ctx["alike_share_bp"]
    assert ctx["largest_saving_action"] == "program_pulse"
    assert ctx["largest_saving_share_bp"] == pytest.approx(0.75)
    assert ctx["inference_differing_actions"] == ["array_read"]
    assert ctx["inference_differing_share"] == pytest.approx(0.5 / 2.5)


def test_sentences_are_built_from_the_numbers():
    text = " ".join(paper_comparison(_summary(bp_open_loop=BP, eapu=EAPU))["differences"])
    assert "0.4 ‰" in text and "inside the paper's" in text          # 4e-4 written per step
    assert "5×" in text and "10.1 times smaller" in text              # 50.54 / 5
    assert "caps the ratio at 10×" in text and "program_pulse (75 %" in text
    assert "+5 dB (+25 %)" in text and "short of" in text
    many = _method(BP["energy_j"]["by_action"], 20.0, 1e4, 50.0, 0.02)
    assert "above the paper's < 1 ‰" in " ".join(paper_comparison(
        _summary(bp_open_loop=BP, eapu=many))["differences"])


def test_no_eapu_write_gives_an_unbounded_lifetime_not_a_number():
    silent = _method({"adc_conversion": 1.0}, 20.0, None, 0.0, 0.0, cell_writes=0)
    c = paper_comparison(_summary(bp_open_loop=BP, eapu=silent))
    assert c["ours"]["lifetime"] is None and c["context"]["eapu_lifetime_unbounded"]
    rows = comparison_rows(c)
    assert any(r[0].startswith("lifetime") and r[1] == "∞ / —" for r in rows)


def test_comparison_needs_both_eapu_and_bp_open_loop():
    assert paper_comparison(_summary(eapu=EAPU, write_verify=WV)) is None
    assert paper_comparison(_summary(bp_open_loop=BP)) is None


def test_priced_inference_and_the_report_section():
    result = cosim.run("workloads/digits_mlp.yaml", hardware(), steps=3, methods=["ideal", "bp_open_loop", "eapu"])
    s = result.summary
    bp, eapu, ideal = (s["methods"][m]["inference"] for m in ("bp_open_loop", "eapu", "ideal"))
    for inf in (bp, eapu, ideal):
        assert inf["samples"] == 450 and inf["energy_j"]["total"] > 0 and inf["latency_s"] > 0
    # the same conversions and bus traffic per test sample on every trained chip; only the
    # array reads see the trained conductances
    for action in ("dac_conversion", "adc_conversion", "bus_transfer"):
        assert bp["energy_j"]["by_action"][action] == pytest.approx(eapu["energy_j"]["by_action"][action], rel=1e-12)
    assert bp["energy_j"]["by_action"]["array_read"] != eapu["energy_j"]["by_action"]["array_read"]
    assert set(ideal["energy_j"]["by_action"]) <= {"host_mac", "host_op"}
    # pricing inference leaves the training ledger alone
    run = result.runs[1]
    assert sum(run.ledger.energy_by_action().values()) == pytest.approx(s["methods"]["bp_open_loop"]["energy_j"]["total"])
    assert math.isfinite(s["paper_comparison"]["ours"]["inference_energy_bp"])


def test_report_shows_the_paper_section_only_with_both_rules(tmp_path):
    both = cosim.run("workloads/digits_mlp.yaml", hardware(), steps=2, methods=["bp_open_loop", "eapu"])
    cosim.write_outputs(both, tmp_path / "both")
    md = (tmp_path / "both" / "report.md").read_text()
    assert "## Paper comparison" in md and "50.54× less than backprop" in md
    one = cosim.run("workloads/digits_mlp.yaml", hardware(), steps=2, methods=["ideal", "eapu"])
    cosim.write_outputs(one, tmp_path / "one")
    assert "Paper comparison" not in (tmp_path / "one" / "report.md").read_text()
    assert "paper_comparison" not in one.summary


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["workloads/eapu_paper_denoise.yaml", "workloads/eapu_paper_srx2.yaml"])
def test_paper_workload_runs_end_to_end_with_few_steps(workload, tmp_path):
    result = cosim.run(workload, "hardware_specs/rram_180nm.yaml", steps=2)
    s = result.summary
    assert set(s["methods"]) == {"ideal", "bp_open_loop", "write_verify", "eapu"}
    assert s["methods"]["eapu"]["metric"]["name"] == "test_psnr_db"
    ours = s["paper_comparison"]["ours"]
    for key in ("training_energy_bp", "training_energy_wv", "inference_energy_bp", "inference_energy_wv"):
        assert math.isfinite(ours[key]) and ours[key] > 0, key
    cosim.write_outputs(result, tmp_path)
    assert "## Paper comparison" in (tmp_path / "report.md").read_text()


def test_relative_gain_needs_a_positive_baseline():
    negative = _method(BP["energy_j"]["by_action"], -11.0, 1e4, 50.0, 0.9)
    c = paper_comparison(_summary(bp_open_loop=negative, eapu=EAPU))
    assert c["ours"]["metric_gain_pct"] is None and c["ours"]["metric_difference"] == pytest.approx(36.0)
    assert "no relative gain" in c["differences"][-1]


def _priced(total, boundary, pulses, programming):
    return {"energy_j": {"total": total, "by_boundary": boundary, "by_action": {"program_pulse": programming}},
            "writes": {"pulses": pulses}}


def test_break_even_solves_the_linear_model_or_says_none_can():
    from cosim.report.paper import break_even
    bp = _priced(10.0, {"chip": 10.0}, 1000, 2.0)        # shared 8 J, 1000 pulses
    eapu = _priced(8.1, {"chip": 8.1}, 10, 0.1)           # shared 8 J, 10 pulses
    out = break_even(eapu, bp, 50.54)
    x = out["energy_per_pulse_j"]
    assert (8.0 + 1000 * x) / (8.0 + 10 * x) == pytest.approx(50.54)
    assert out["pulse_ratio"] == 100
    none = break_even(_priced(8.1, {"chip": 8.1}, 100, 0.1), bp, 50.54)   # pulse ratio 10 < 50.54
    assert none["energy_per_pulse_j"] is None and "none can" in none["statement"]
