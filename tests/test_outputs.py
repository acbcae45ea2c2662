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


# ----- several seeds, the headline panel, the console ----------------------------------------------
@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
    """`cosim run --seeds 0,1,2` (all four default rules, 2 steps): its folder and console output."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("seeds") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", "--steps", "2", "--seeds", "0,1,2", "--out", str(out), "--quiet"]) == 0
    return out, printed.getvalue()


def test_mean_and_student_t_interval_match_the_closed_form():
    from cosim.report.seeds import mean_ci

    figure = mean_ci([1.0, 2.0, 4.0])
    mean, s = 7 / 3, (((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2) ** 0.5
    half = 4.302652729911275 * s / 3 ** 0.5                # t(0.975, 2 degrees of freedom)
    assert figure["mean"] == pytest.approx(mean) and figure["std"] == pytest.approx(s)
    assert (figure["ci95_low"], figure["ci95_high"]) == pytest.approx((mean - half, mean + half))
    assert mean_ci([5.0])["ci95_half_width"] is None          # one seed: no interval
    assert mean_ci([None, None])["mean"] is None              # e.g. no device ever written
    assert mean_ci([0.1 + 0.2, 0.3, 0.3])["ci95_half_width"] == 0.0   # rounding is no spread


def test_several_seeds_give_means_and_intervals_in_summary_and_report(seeds_run):
    out, printed = seeds_run
    summary = json.loads((out / "summary.json").read_text())
    per_seed = [json.loads((out / "seeds" / f"summary_seed_{s}.json").read_text()) for s in (0, 1, 2)]
    assert [s["seed"] for s in per_seed] == [0, 1, 2] and summary["seeds"]["seeds"] == [0, 1, 2]
    for method in ("bp_open_loop", "eapu"):
        stats = summary["seeds"]["methods"][method]
        for quantity, pick in (("metric", lambda m: m["metric"]["value"]),
                               ("energy_j", lambda m: m["energy_j"]["total"]),
                               ("steps_to_first_cell_failure",
                                lambda m: m["lifetime"]["steps_to_first_cell_failure"])):
            values = [pick(s["methods"][method]) for s in per_seed]
            assert stats[quantity]["values"] == values
            assert stats[quantity]["mean"] == pytest.approx(sum(values) / 3)
            assert stats[quantity]["ci95_low"] <= stats[quantity]["mean"] <= stats[quantity]["ci95_high"]
    assert len({s["methods"]["eapu"]["energy_j"]["total"] for s in per_seed}) == 3   # the seeds differ
    report = (out / "report.md").read_text()
    assert report.index("## Headline") < report.index("## Configuration") < report.index("## Methods")
    assert "Means over seeds 0, 1, 2" in report and " ± " in report
    assert "mean ± 95 % CI" in printed


def test_the_headline_gives_each_figure_its_ratio_to_bp_open_loop(seeds_run):
    from cosim.report.headline import headline

    out, _ = seeds_run
    summary = json.loads((out / "summary.json").read_text())
    panel = headline(summary)
    stats = summary["seeds"]["methods"]
    eapu, bp = stats["eapu"]["energy_j"]["mean"], stats["bp_open_loop"]["energy_j"]["mean"]
    assert panel["eapu"]["energy (J)"]["value"] == eapu
    assert panel["eapu"]["energy (J)"]["vs_bp_open_loop"] == pytest.approx(eapu / bp)
    assert all(cell["vs_bp_open_loop"] == pytest.approx(1.0) for cell in panel["bp_open_loop"].values())
    assert panel["ideal"]["first failure (steps)"]["value"] is None      # no device written
    assert set(panel["write_verify"]) == {"metric", "energy (J)", "latency / step (s)", "first failure (steps)"}


def test_the_paper_comparison_is_a_table_a_list_and_a_chart(seeds_run):
    out, _ = seeds_run
    report = (out / "report.md").read_text()
    paper = report[report.index("## Paper comparison"):report.index("## Methods")]
    assert "| quantity | ours | paper |" in paper and paper.count("\n- ") >= 4
    assert (out / "paper_comparison.png").stat().st_size > 10_000
    assert "![Paper comparison](paper_comparison.png)" in paper


def test_console_tables_fit_100_columns(seeds_run):
    _, printed = seeds_run
    tables = [line for line in printed.splitlines() if line and not line.startswith("wrote ")]
    assert len(tables) == 2 * 5 + 1           # two tables: a head and four rules each, and a title
    assert max(len(line) for line in tables) <= 100, "\n".join(tables)


def test_a_psnr_run_is_not_labelled_accuracy(small_run):
    import copy

    from cosim.report.headline import headline_rows
    from cosim.report.render import faults_table, method_table

    summary = copy.deepcopy(small_run.summary)
    for m in summary["methods"].values():
        m["metric"]["name"] = "test_psnr_db"
    for rows in (headline_rows(summary), faults_table(summary), method_table(summary)):
        assert "test PSNR (dB)" in rows[0] and not any("accuracy" in head for head in rows[0])


def test_plain_table_wraps_headings_then_leaves_out_what_still_does_not_fit():
    from cosim.report.render import plain_table

    narrow = [["method", "x"], ["eapu", "1"]]
    assert plain_table(narrow) == "method  x\n  eapu  1"                       # unchanged when it fits
    wide = [["method"] + [f"a long heading number {i}" for i in range(6)], ["eapu"] + ["0.1234"] * 6]
    lines = plain_table(wide).splitlines()
    assert max(map(len, lines)) <= 100 and lines[-1].endswith("0.1234") and len(lines) > 2
    huge = [["method"] + [f"h{i}" for i in range(30)], ["eapu"] + ["1.234e-05"] * 30]
    lines = plain_table(huge).splitlines()
    assert max(map(len, lines)) <= 100 and "not shown at 100 columns: h" in " ".join(lines)


def test_cost_console_table_fits_100_columns(capsys):
    assert main(["cost", str(ROOT / "workloads" / "cost_resnet18_cifar.yaml"), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 100, "\n".join(lines)


def test_compare_takes_the_means_of_a_several_seed_run(two_runs, seeds_run, capsys):
    assert main(["compare", str(two_runs[0]), str(seeds_run[0]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seeds"] == [[0], [0, 1, 2]]
    summary = json.loads((seeds_run[0] / "summary.json").read_text())
    energy = next(r for r in result["metrics"] if r["method"] == "eapu" and r["quantity"] == "energy")
    assert energy["values"][1] == summary["seeds"]["methods"]["eapu"]["energy_j"]["mean"]


def test_a_section_without_rows_prints_its_note_and_no_empty_table(tmp_path):
    from cosim.report.render import write_documents

    sections = [("Configuration", "No field differs from the presets.", [["spec", "field", "preset", "this run"]]),
                ("Other", "note", [["a", "b"], ["1", "2"]])]
    write_documents(tmp_path, "t", "intro", sections, {})
    md, page = (tmp_path / "report.md").read_text(), (tmp_path / "report.html").read_text()
    assert "No field differs" in md and "| spec |" not in md and "| a | b |" in md
    assert "<th>spec</th>" not in page and "<th>a</th>" in page


def test_an_image_run_shows_the_input_baseline_beside_each_method(small_run):
    import copy

    from cosim.report.headline import headline_rows, headline_section

    summary = copy.deepcopy(small_run.summary)
    summary["dataset"], summary["input_baseline"] = "sr_x2", {"test_psnr_db": 30.0, "test_ssim": 0.8}
    for m in summary["methods"].values():
        m["metric"] = {"name": "test_psnr_db", "value": 31.25}
    summary["methods"]["eapu"]["metric"]["value"] = 29.5
    rows = headline_rows(summary)
    assert rows[0][:3] == ["method", "test PSNR (dB)", "vs bicubic (30 dB)"]
    by_method = {row[0]: row[2] for row in rows[1:]}
    assert by_method["eapu"] == "-0.50 dB" and by_method["ideal"] == "+1.25 dB"
    assert all(len(row) == len(rows[0]) for row in rows)
    assert "vs bicubic: each method's metric minus" in headline_section(summary)[1]
    assert headline_rows(small_run.summary)[0][2] == "energy (J)"      # no baseline, no column
