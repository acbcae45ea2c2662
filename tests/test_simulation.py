"""Timing invariants, energy bookkeeping, determinism and the noiseless reference."""
import json

import numpy as np
import pytest
import simpy

import cosim.api as api
from cosim.costs.actions import ActionCosts, to_ps
from cosim.hardware.chip import Chip
from cosim.nn.analog import AnalogMatrix
from cosim.sim.ledger import Ledger
from tests.conftest import HOST_CENTRIC, hardware, ideal_hardware, workload


def _transactions(result):
    return {r.method: r.ledger.transactions() for r in result.runs}


def test_time_never_decreases_and_transactions_start_after_issue(small_run):
    for method, tx in _transactions(small_run).items():
        assert (tx.start_ps >= tx.issue_ps).all(), method
        assert (tx.end_ps >= tx.start_ps).all(), method
        # Issue times are the simulation clock when each transaction was asked for.
        assert (np.diff(tx.issue_ps.to_numpy()) >= 0).all(), method


def test_no_component_is_used_beyond_capacity(small_run):
    for method, tx in _transactions(small_run).items():
        for component, rows in tx.groupby("component"):
            rows = rows.sort_values("start_ps")
            overlap = rows.start_ps.to_numpy()[1:] < rows.end_ps.to_numpy()[:-1]
            assert not overlap.any(), f"{method}: {component} serves two transactions at once"


def test_fifo_servers_never_idle_while_work_waits(small_run):
    """A transaction that waited (start > issue) starts exactly when the previous one ended."""
    for method, tx in _transactions(small_run).items():
        for component, rows in tx[tx.kind != "bus"].groupby("component"):
            rows = rows.sort_values("start_ps")
            waited = rows.start_ps.to_numpy()[1:] > rows.issue_ps.to_numpy()[1:]
            assert (rows.start_ps.to_numpy()[1:][waited] == rows.end_ps.to_numpy()[:-1][waited]).all()


def test_mvm_stages_keep_their_order(small_run):
    """DAC -> array -> ADC within each tile MVM, and the bus input precedes the tile work."""
    tx = _transactions(small_run)["bp_open_loop"]
    mvm = tx[tx.op.isin(["forward", "backward"])]
    for tile in mvm[mvm.kind == "tile"].component.unique():
        dac = mvm[mvm.component == f"{tile}.dac"].end_ps.to_numpy()
        array = mvm[mvm.component == tile]
        adc = mvm[mvm.component == f"{tile}.adc"].start_ps.to_numpy()
        assert len(dac) == len(array) == len(adc) > 0
        assert (array.start_ps.to_numpy() >= dac).all() and (adc >= array.end_ps.to_numpy()).all()


def test_program_then_verify_never_overlaps_reads(small_run):
    tx = _transactions(small_run)["write_verify"]
    tiles = tx[tx.kind == "tile"]
    for _, rows in tiles.groupby("component"):
        rows = rows.sort_values("start_ps")
        assert (rows.start_ps.to_numpy()[1:] >= rows.end_ps.to_numpy()[:-1]).all()
    assert (tiles.op == "write_verify").any()


def test_energy_totals_agree_across_ledger_components_and_summary(small_run):
    for run in small_run.runs:
        summary = small_run.summary["methods"][run.method]["energy_j"]
        actions = run.ledger.actions()
        training = actions[actions.step >= 0]
        assert sum(summary["by_action"].values()) == pytest.approx(summary["total"], rel=1e-12)
        assert training.energy_j.sum() == pytest.approx(summary["total"], rel=1e-12)
        per_component = training.groupby("component").energy_j.sum().sum()
        assert per_component == pytest.approx(summary["total"], rel=1e-12)
        tx = run.ledger.transactions()
        assert tx[tx.step >= 0].energy_j.sum() == pytest.approx(summary["total"], rel=1e-12)
        steps_table = small_run.ledger[small_run.ledger.method == run.method]
        energy_cols = [c for c in steps_table.columns if c.startswith("energy_j.")]
        assert steps_table[energy_cols].to_numpy().sum() == pytest.approx(summary["total"], rel=1e-12)


def test_chunking_env_run_changes_nothing():
    wl = workload(steps=10)
    one = api.run(wl, hardware(), chunk_steps=1).summary
    coarse = api.run(wl, hardware(), chunk_steps=7).summary
    assert json.dumps(one, sort_keys=True) == json.dumps(coarse, sort_keys=True)


def test_same_seed_same_summary_and_other_seed_differs(tmp_path, small_run):
    again = api.run(workload(steps=12), hardware())
    assert json.dumps(again.summary, sort_keys=True) == json.dumps(small_run.summary, sort_keys=True)
    other = api.run(workload(steps=12), hardware(), seed=5)
    assert json.dumps(other.summary, sort_keys=True) != json.dumps(small_run.summary, sort_keys=True)


def test_noiseless_analog_training_equals_fp_reference():
    wl = workload(steps=15, weight_bound=4.0)
    result = api.run(wl, ideal_hardware())
    runs = {r.method: r for r in result.runs}
    for method in ("bp_open_loop", "write_verify", "eapu"):
        assert np.allclose(runs[method].loss, runs["ideal"].loss, rtol=1e-9, atol=1e-12), method
        assert runs[method].scores == runs["ideal"].scores


def test_noiseless_analog_mvm_equals_matmul():
    rng = np.random.default_rng(3)
    w = rng.uniform(-0.9, 0.9, (300, 140))          # spans 3 x 2 tiles of 128 x 128
    m = AnalogMatrix("w", w, ideal_hardware(), 1.0, rng)
    m.devices.set_exact(w)
    x, dy = rng.normal(size=(7, 300)), rng.normal(size=(7, 140))
    assert np.allclose(m.matmul(x), x @ w, atol=1e-12)
    assert np.allclose(m.matmul_t(dy), dy @ w.T, atol=1e-12)


def test_single_mvm_matches_closed_form_makespan():
    hw = hardware(dac={"bits": 1, "input_bits": 4}, adc={"columns_per_adc": 8}, **HOST_CENTRIC)
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.5, 0.5, (100, 20))
    env, ledger = simpy.Environment(), Ledger()
    matrix = AnalogMatrix("m", w, hw, 1.0, rng)
    chip = Chip(env, hw, ledger, {"m": matrix})
    matrix.matmul(rng.random((3, 100)))            # non-negative: one phase, 4 slices
    env.process(chip.mvm(matrix.ops.pop()))
    env.run()
    steps = 3 * 1 * 4
    bits = hw.bus.weight_bits
    expected = (to_ps(hw.bus.latency + 3 * 100 * bits / hw.bus.bandwidth)
                + to_ps(steps * hw.dac.conversion_time) + to_ps(steps * hw.tile.read_time)
                + to_ps(steps * 8 * (hw.adc.bits + 1) / hw.adc.clock)
                + to_ps(hw.bus.latency + 3 * 20 * bits / hw.bus.bandwidth)
                + to_ps(3 * 20 / hw.host.mac_rate))          # host rescales the 3 x 20 outputs
    assert env.now == expected
    tx = ledger.transactions()
    assert len(tx) == 6                              # bus, dac, array, adc, bus, host: pinned event count
    costs = ActionCosts(hw)
    adc = tx[tx.kind == "adc_bank"].iloc[0]
    assert adc.end_ps - adc.start_ps == to_ps(costs.adc_time(steps, 20))


def test_eapu_writes_fewer_cells_than_open_loop(small_run):
    methods = small_run.summary["methods"]
    assert methods["eapu"]["writes"]["fraction_updated_per_step"] < methods["bp_open_loop"]["writes"]["fraction_updated_per_step"]
    assert methods["eapu"]["writes"]["cell_writes"] < methods["bp_open_loop"]["writes"]["cell_writes"]
    assert methods["ideal"]["lifetime"]["steps_to_first_cell_failure"] is None


def test_summary_gives_gpu_over_chip_ratios_per_boundary_per_step_and_per_run(small_run, tmp_path):
    s = small_run.summary
    assert set(s["chip_vs_gpu"]) == {m for m in s["methods"] if m != "ideal"}
    for method, per_gpu in s["chip_vs_gpu"].items():
        energy = s["methods"][method]["energy_j"]
        for name, ratios in per_gpu.items():
            gpu = s["gpu"][name]
            for boundary, chip in energy["by_boundary"].items():
                assert ratios["per_step"][boundary] == pytest.approx(gpu["energy_j_per_step"] / (chip / s["steps"]))
                assert ratios["per_run"][boundary] == pytest.approx(gpu["energy_j_run"] / (chip + energy["setup"]))
            # wider boundary, more chip energy, smaller ratio; the setup only lowers the run ratio
            assert ratios["per_step"]["chip"] >= ratios["per_step"]["chip_bus"] >= ratios["per_step"]["chip_bus_host"]
            assert ratios["per_run"]["chip"] < ratios["per_step"]["chip"]
    from cosim.api import write_outputs
    report = write_outputs(small_run, tmp_path) / "report.md"
    assert "h200 ÷ chip, per run" in report.read_text()
