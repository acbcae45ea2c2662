"""Sweeps: spec expansion and validation, local pool vs Dask, resume, kill safety, errors, report."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from cosim.cli import main
from cosim.report.sweep_report import configurations, pareto_fronts, pareto_mask
from cosim.report.sweep_table import load_table
from cosim.specs.base import SpecError
from cosim.specs.sweep import expand_sweep, load_sweep
from cosim.sweep import run_sweep
from tests.conftest import HW_FILE, ROOT, WL_FILE

BASE = f"workload: {WL_FILE}\nhardware: {HW_FILE}\n"


def sweep_file(tmp_path, body: str, name="s", steps=4, methods="[bp_open_loop, eapu]"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\n{BASE}steps: {steps}\nmethods: {methods}\n{body}")
    return path


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values(["point", "method"]).reset_index(drop=True)


# ----- spec ----------------------------------------------------------------------------------------
def test_grid_zip_random_and_seeds_cross(tmp_path):
    path = sweep_file(tmp_path, """seeds: [0, 1]
grid:
  hardware.adc.bits: [4, 6, 8]
zip:
  - hardware.tile.rows: [64, 128]
    hardware.tile.cols: [64, 128]
random:
  samples: 3
  seed: 5
  ranges:
    hardware.device.write_noise: {low: 0.01, high: 0.05, log: true}
    workload.training.batch_size: {low: 8, high: 32, integer: true}
    methods: [eapu, bp_open_loop]
""")
    points = expand_sweep(load_sweep(path), path)
    assert len(points) == 3 * 2 * 3 * 2
    assert len({p.key for p in points}) == len(points)
    for p in points:
        assert p.hardware.tile.rows == p.hardware.tile.cols == p.values["hardware.tile.rows"]
        assert p.hardware.adc.bits == p.values["hardware.adc.bits"]
        assert 0.01 <= p.hardware.device.write_noise <= 0.05
        assert 8 <= p.workload.training.batch_size <= 32
        assert isinstance(p.values["workload.training.batch_size"], int)
        assert p.workload.methods == (p.values["methods"],)
        assert p.workload.seed == p.seed and p.workload.training.steps == 4
    again = expand_sweep(load_sweep(path), path)
    assert [p.key for p in again] == [p.key for p in points]      # the sampler is seeded
    assert len({p.values["hardware.device.write_noise"] for p in points}) == 3


def test_set_fixes_a_field_of_every_point(tmp_path):
    path = sweep_file(tmp_path, "set:\n  workload.network.params.widths: [64, 32, 10]\n  hardware.tile.rows: 32\n"
                                "grid:\n  hardware.adc.bits: [4, 5]\n")
    points = expand_sweep(load_sweep(path), path)
    assert [(p.hardware.adc.bits, p.hardware.tile.rows) for p in points] == [(4, 32), (5, 32)]
    assert all(p.workload.network.params.widths == (64, 32, 10) for p in points)
    assert list(points[0].values) == ["hardware.adc.bits"]


def test_hardware_file_axis_swaps_the_whole_chip(tmp_path):
    other = tmp_path / "small_tile.yaml"
    other.write_text(HW_FILE.read_text().replace("name: rram_180nm", "name: small").replace("rows: 128", "rows: 32"))
    path = sweep_file(tmp_path, f"grid:\n  hardware: [{HW_FILE}, small_tile.yaml]\n  hardware.adc.bits: [5]\n")
    points = expand_sweep(load_sweep(path), path)
    assert [(p.hardware.name, p.hardware.tile.rows, p.hardware.adc.bits) for p in points] == \
        [("rram_180nm", 128, 5), ("small", 32, 5)]


def test_presets_that_extend_another_chip_load_as_axis_values(tmp_path):
    path = sweep_file(tmp_path, "grid:\n  hardware: [hardware_specs/pcm.yaml]\n  hardware.device.write_noise: [0.02]\n")
    point = expand_sweep(load_sweep(path), path)[0]
    assert point.hardware.name == "pcm" and point.hardware.device.write_noise == 0.02
    assert point.hardware.tile.rows == 128                                    # from the chip it extends
    assert point.hardware.device.sources["write_noise"] == "sweep s: grid.hardware.device.write_noise"


@pytest.mark.parametrize("body, where, words", [
    ("grid:\n  hardware.adc.bits: [4, 99]\n", "grid.hardware.adc.bits", "less than or equal to 16"),
    ("grid:\n  hardware.adc.bitz: [4]\n", "grid.hardware.adc.bitz", "unknown key"),
    ("grid:\n  hardware.adc.bits.x: [4]\n", "grid.hardware.adc.bits.x", "not a mapping"),
    ("grid:\n  adc.bits: [4]\n", "grid", "dotted path"),
    ("grid:\n  workload.seed: [1]\n", "grid", "seeds"),
    ("grid:\n  methods: [eapu, sgd]\n", "grid.methods", "unknown method"),
    ("grid:\n  hardware: [missing.yaml]\n", "grid.hardware", "file not found"),
    ("zip:\n  - hardware.tile.rows: [64, 128]\n    hardware.tile.cols: [64]\n", "zip", "equal length"),
    ("random:\n  samples: 2\n  ranges:\n    hardware.device.write_noise: {low: 0.5, high: 0.1}\n",
     "random.ranges", "must exceed low"),
    ("random:\n  samples: 4\n  ranges:\n    workload.training.learning_rate: {low: -1, high: 1}\n",
     "random.ranges.workload.training.learning_rate", "greater than 0"),
    ("grid:\n  hardware.adc.bits: [4]\nrandom:\n  samples: 1\n  ranges:\n    hardware.adc.bits: [4]\n",
     "(top level)", "more than once"),
    ("set:\n  workload.training.batch_size: 0\n", "set.workload.training.batch_size", "greater than 0"),
    ("set:\n  hardware: other.yaml\n", "set", "top level"),
    ("grid:\n  hardware.adc.bits: [4, 6, 4]\n", "(top level)", "repeats point 0"),
    (f"grid:\n  workload: [{ROOT}/workloads/cost_resnet18_cifar.yaml]\n", "grid.workload", "shapes-only"),
    ("set:\n  hardware.adc.bits: 6\ngrid:\n  hardware.adc.bits: [4]\n", "(top level)", "more than once"),
])
def test_bad_axes_fail_before_running_naming_file_and_axis(tmp_path, capsys, body, where, words):
    path = sweep_file(tmp_path, body)
    with pytest.raises(SpecError) as err:
        expand_sweep(load_sweep(path), path)
    assert f"{path}: {where}" in str(err.value) and words in str(err.value)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    message = capsys.readouterr().err
    assert "Traceback" not in message and str(path) in message
    assert not (tmp_path / "out").exists()          # nothing ran, nothing written


# ----- running ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    path = sweep_file(tmp, "seeds: [0, 1]\ngrid:\n  hardware.device.write_noise: [0.01, 0.04]\n",
                      methods="[bp_open_loop, eapu]")
    outcome = run_sweep(path, tmp / "local", workers=2, report=False)
    return path, outcome


def test_each_point_has_its_folder_and_rows_in_csv_and_parquet(local_sweep):
    _, outcome = local_sweep
    assert (outcome.points, outcome.ran, outcome.errors) == (4, 4, [])
    folders = sorted(p for p in (outcome.out / "points").iterdir())
    assert len(folders) == 4
    for folder in folders:
        meta = json.loads((folder / "point.json").read_text())
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["seed"] == meta["seed"] and set(summary["methods"]) == {"bp_open_loop", "eapu"}
    csv = pd.read_csv(outcome.out / "results.csv")
    parquet = pd.read_parquet(outcome.out / "results.parquet")
    assert len(csv) == len(parquet) == 8 and set(csv.status) == {"ok"}
    pd.testing.assert_frame_equal(comparable(csv), comparable(parquet), check_dtype=False)


def test_same_seed_same_results_and_seeds_differ(local_sweep):
    _, outcome = local_sweep
    table = load_table(outcome.out)
    eapu = table[table.method == "eapu"].set_index(["hardware.device.write_noise", "seed"])
    assert eapu.loc[(0.01, 0)].energy_j != eapu.loc[(0.01, 1)].energy_j


def test_dask_cluster_gives_the_local_pools_results(local_sweep, tmp_path):
    from distributed import LocalCluster

    path, outcome = local_sweep
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        remote = run_sweep(path, tmp_path / "dask", scheduler=cluster.scheduler_address, report=False)
    assert remote.ran == 4 and not remote.errors
    pd.testing.assert_frame_equal(comparable(load_table(remote.out)), comparable(load_table(outcome.out)))


def test_resume_runs_only_missing_points(local_sweep, tmp_path, capsys):
    import shutil

    path, outcome = local_sweep
    copy = tmp_path / "copy"
    shutil.copytree(outcome.out, copy)
    removed = sorted((copy / "points").iterdir())[0]
    shutil.rmtree(removed)
    kept = {p.name: (p / "summary.json").stat().st_mtime_ns for p in (copy / "points").iterdir()}
    assert main(["sweep", str(path), "--out", str(copy), "--quiet"]) == 2   # exists, no --resume
    assert "--resume" in capsys.readouterr().err
    again = run_sweep(path, copy, workers=1, resume=True, report=False)
    assert (again.ran, again.skipped) == (1, 3)
    assert {p.name: (p / "summary.json").stat().st_mtime_ns for p in (copy / "points").iterdir()
            if p.name in kept} == kept
    pd.testing.assert_frame_equal(comparable(load_table(copy)), comparable(load_table(outcome.out)))
    assert len(pd.read_csv(copy / "results.csv")) == 8
    # An edited sweep (one noise level more, one fewer) resumes into the same folder.
    edited = tmp_path / "edited.yaml"
    edited.write_text(path.read_text().replace("[0.01, 0.04]", "[0.04, 0.02]"))
    again = run_sweep(edited, copy, workers=1, resume=True, report=False)
    assert (again.ran, again.skipped) == (2, 2)
    table = load_table(copy)
    assert sorted(set(table["hardware.device.write_noise"])) == [0.02, 0.04]
    assert table.point.tolist() == sorted(table.point.tolist()) and set(table.point) == {0, 1, 2, 3}


def test_a_raising_point_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    # In-process Dask workers see the patched training, which fails for one ADC resolution.
    from distributed import LocalCluster

    import cosim.api

    real_run = cosim.api.run

    def flaky_run(workload, hardware, **kwargs):
        if hardware.adc.bits == 5:
            raise FloatingPointError("weights diverged")
        return real_run(workload, hardware, **kwargs)

    monkeypatch.setattr(cosim.api, "run", flaky_run)
    path = sweep_file(tmp_path, "grid:\n  hardware.adc.bits: [4, 5, 6]\n", methods="[eapu]")
    out = tmp_path / "out"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        outcome = run_sweep(path, out, scheduler=cluster.scheduler_address)
        assert outcome.ran == 3 and len(outcome.errors) == 1
        table = load_table(out)
        bad = table[table.status == "error"]
        assert bad["hardware.adc.bits"].tolist() == [5]
        assert bad.iloc[0].error == "FloatingPointError: weights diverged"
        assert "Traceback" in (out / "points" / outcome.errors[0] / "error.txt").read_text()
        assert table[table.status == "ok"].metric.notna().all() and len(table) == 3
        assert "Points that raised" in (out / "report.md").read_text()
        again = run_sweep(path, out, scheduler=cluster.scheduler_address, resume=True, report=False)
        assert again.ran == 0                                    # recorded errors count as done ...
        monkeypatch.setattr(cosim.api, "run", real_run)
        again = run_sweep(path, out, scheduler=cluster.scheduler_address, resume=True,
                          retry_errors=True, report=False)
        assert again.ran == 1 and not again.errors                # ... unless retried
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 3 and set(table.status) == {"ok"}


def test_killed_sweep_loses_no_finished_point_and_resumes(tmp_path):
    path = sweep_file(tmp_path, "grid:\n  hardware.adc.bits: [4, 5, 6, 7, 8]\n", methods="[eapu]")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cosim", "sweep", str(path), "--out", str(out), "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not list((out / "points").glob("[!.]*/point.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)     # the sweep and its worker processes
        proc.wait()
    before = {p.parent.name: p.stat().st_mtime_ns for p in (out / "points").glob("[!.]*/summary.json")}
    assert 1 <= len(before) < 5
    outcome = run_sweep(path, out, workers=1, resume=True, report=False)
    assert (outcome.ran, outcome.skipped) == (5 - len(before), len(before))
    after = {p.parent.name: p.stat().st_mtime_ns for p in (out / "points").glob("[!.]*/summary.json")}
    assert len(after) == 5 and all(after[k] == v for k, v in before.items())
    table = pd.read_csv(out / "results.csv")
    assert sorted(table.point) == [0, 1, 2, 3, 4] and set(table.status) == {"ok"}


# ----- report -------------------------------------------------------------------------------------
def test_pareto_mask_keeps_exactly_the_non_dominated():
    points = np.array([[1, 1], [2, 0], [0, 2], [0.5, 0.5], [1, 1], [2, 0]])
    assert pareto_mask(points).tolist() == [True, True, True, False, True, True]


def test_fronts_are_per_method_and_use_seed_means():
    table = pd.DataFrame({
        "point": [0, 0, 1, 1, 2, 3], "key": list("aabbcd"), "seed": [0, 1, 0, 1, 0, 0],
        "x": [1, 1, 2, 2, 1, 2], "method": ["m", "m", "m", "m", "n", "n"], "status": "ok",
        "metric_name": "test_accuracy",
        "metric": [0.8, 0.6, 0.9, 0.9, 0.5, 0.4], "energy_j": [1.0, 1.0, 2.0, 2.0, 1.0, 3.0],
        "steps_to_1pct_cells_failed": [10.0, 10.0, 10.0, 10.0, None, 5.0],
        "latency_s": 1.0, "cell_writes": 1, "fraction_updated_per_step": 0.1})
    configs = configurations(table, ["x"])
    m = configs[configs.method == "m"].set_index("x")
    assert m.loc[1].metric == pytest.approx(0.7) and m.loc[1].seeds == 2
    front = pareto_fronts(configs)
    assert sorted(zip(front.method, front.x)) == [("m", 1), ("m", 2), ("n", 1)]
    assert np.isinf(configs[(configs.method == "n") & (configs.x == 1)].lifetime_steps).all()


def test_report_command_rewrites_report_and_rejects_other_folders(local_sweep, tmp_path, capsys):
    _, outcome = local_sweep
    assert main(["report", str(outcome.out)]) == 0
    for f in ("report.html", "pareto.png", "sensitivity_0.png"):
        assert (outcome.out / f).stat().st_size > 0
    text = (outcome.out / "report.md").read_text()
    for heading in ("## Results", "## Pareto fronts", "## Best points per criterion", "Sensitivity"):
        assert heading in text
    assert main(["report", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err


def test_example_sweeps_validate(capsys):
    examples = sorted((ROOT / "workloads" / "sweeps").glob("*.yaml"))
    assert len(examples) >= 2
    assert main(["validate", *map(str, examples)]) == 0
    assert capsys.readouterr().out.count("valid points") == len(examples)


def test_unreachable_scheduler_is_one_clear_message(tmp_path, capsys, monkeypatch):
    import socket

    import cosim.sweep.backends as backends

    monkeypatch.setattr(backends, "CONNECT_TIMEOUT_S", 1)
    with socket.socket() as sock:           # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = sweep_file(tmp_path, "grid:\n  hardware.adc.bits: [4]\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--scheduler", f"tcp://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler" in err and f"127.0.0.1:{port}" in err and "Traceback" not in err


def test_dry_run_lists_valid_points(tmp_path, capsys):
    path = sweep_file(tmp_path, "seeds: [0, 1]\ngrid:\n  hardware.adc.bits: [4, 8]\n")
    assert main(["sweep", str(path), "--dry-run"]) == 0
    assert "4 points, all valid" in capsys.readouterr().out


def test_an_edited_sweep_or_base_file_reruns_its_stale_points(tmp_path, capsys):
    base = tmp_path / "base.yaml"
    base.write_text(WL_FILE.read_text())
    path = tmp_path / "s.yaml"
    body = "grid:\n  hardware.adc.bits: [4, 6]\n"
    path.write_text(f"name: s\nworkload: {base}\nhardware: {HW_FILE}\nsteps: 2\nmethods: [eapu]\n{body}")
    out = tmp_path / "out"
    first = run_sweep(path, out, workers=1, report=False)
    assert (first.ran, first.stale) == (2, 0)
    path.write_text(path.read_text().replace("steps: 2", "steps: 3"))       # the edit
    assert main(["sweep", str(path), "--out", str(out), "--quiet", "--resume", "--workers", "1"]) == 0
    said = capsys.readouterr().out
    assert "2 finished points were computed from another configuration" in said
    assert "2 points run, 0 already done" in said
    table = load_table(out)
    assert len(table) == 2
    for key in table.key:
        assert json.loads((out / "points" / key / "summary.json").read_text())["steps"] == 3
        assert "steps: 3" in (out / "points" / key / "workload.yaml").read_text()
    # An edit of a base file the sweep names (not of the sweep file) is a change too.
    base.write_text(base.read_text().replace("learning_rate:", "learning_rate: 0.02 #", 1))
    again = run_sweep(path, out, workers=1, resume=True, report=False)
    assert (again.ran, again.skipped, again.stale) == (2, 0, 2)
    unchanged = run_sweep(path, out, workers=1, resume=True, report=False)
    assert (unchanged.ran, unchanged.skipped, unchanged.stale) == (0, 2, 0)
    plan = json.loads((out / "sweep.json").read_text())
    assert all(len(p["config"]) == 16 for p in plan["points"])


def test_pareto_figure_draws_a_sweep_whose_runs_all_outlive_it(tmp_path):
    """Short points whose devices never fail (lifetime ∞ everywhere) leave the lifetime panel
    empty; it is drawn on linear axes instead of raising (log axes need a value)."""
    import numpy as np
    import pandas as pd

    from cosim.report.sweep_report import pareto_figure
    configs = pd.DataFrame({"method": ["bp_open_loop", "eapu"], "energy_j": [2e-3, 1e-3],
                            "metric": [19.5, 19.6], "metric_name": ["test_psnr"] * 2,
                            "lifetime_steps": [np.inf, np.inf]})
    assert pareto_figure(configs, tmp_path).exists()
