"""Detailed vs transaction fidelity, pinned event counts, queueing statistics and the trace."""
import json
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

import cosim.api as api
from cosim.cli import main
from cosim.costs.actions import to_ps
from cosim.hardware.adc_bank import conversions_per_slot
from cosim.hardware.chip import Chip
from cosim.nn.analog import AnalogMatrix
from cosim.report.trace import chrome_trace
from cosim.sim.clock import CountingEnvironment
from cosim.sim.ledger import Ledger
from cosim.sim.queueing import queueing_stats, time_average_in_system
from cosim.specs.hardware import HardwareSpec
from tests.conftest import hardware, workload

SCHEMA = json.loads((Path(__file__).parent / "data" / "trace_event.schema.json").read_text())
SMALL_TILES = {"tile": {"rows": 16, "cols": 16}}


def small_workload(steps=3, methods=("ideal", "bp_open_loop", "write_verify", "eapu")):
    wl = workload(steps=steps, methods=methods)
    params = {"widths": [64, 16, 10], "activation": "sigmoid"}
    return wl.model_validate({**wl.model_dump(), "network": {"arch": "mlp", "params": params}})


@pytest.fixture(scope="module")
def both_fidelities():
    """The same small training (16×16 tiles: fc1 on 4×1 tiles, fc2 on 1×1) in both fidelities."""
    hw = hardware(**SMALL_TILES)
    return {f: api.run(small_workload(), hw, fidelity=f) for f in ("transaction", "detailed")}


def action_totals(run) -> pd.DataFrame:
    acts = run.ledger.actions()
    acts = acts[acts["count"] > 0]          # transaction mode books zero-pulse rows; units never do
    return acts.groupby(["step", "component", "action"])[["count", "energy_j"]].sum()


def test_detailed_and_transaction_agree_on_counts_energy_makespan_and_numerics(both_fidelities):
    coarse, fine = both_fidelities["transaction"], both_fidelities["detailed"]
    for a, b in zip(coarse.runs, fine.runs):
        ta, tb = action_totals(a), action_totals(b)
        assert ta.index.equals(tb.index), a.method
        assert (ta["count"] == tb["count"]).all(), a.method
        assert np.allclose(ta.energy_j, tb.energy_j, rtol=1e-12, atol=0), a.method
        assert (a.setup_end_ps, a.end_ps) == (b.setup_end_ps, b.end_ps), a.method
        assert np.array_equal(a.loss, b.loss) and a.scores == b.scores, a.method
        if a.analog:   # the fine mode really is finer: many more events and ledger rows
            assert b.events.sum() > 20 * a.events.sum()
            assert len(b.ledger.transactions()) > 20 * len(a.ledger.transactions())
    assert fine.summary["fidelity"] == "detailed" and coarse.summary["fidelity"] == "transaction"


def test_detailed_run_keeps_timing_invariants(both_fidelities):
    for run in both_fidelities["detailed"].runs:
        tx = run.ledger.transactions()
        assert (tx.start_ps >= tx.issue_ps).all() and (tx.end_ps > tx.start_ps).all()
        for component, rows in tx.groupby("component"):
            rows = rows.sort_values("start_ps")
            assert (rows.start_ps.to_numpy()[1:] >= rows.end_ps.to_numpy()[:-1]).all(), component


def _single_mvm(hw: HardwareSpec, vectors=3):
    rng = np.random.default_rng(0)
    env, ledger = CountingEnvironment(), Ledger()
    matrix = AnalogMatrix("m", rng.uniform(-0.5, 0.5, (100, 20)), hw, 1.0, rng)
    chip = Chip(env, hw, ledger, {"m": matrix})
    matrix.matmul(rng.random((vectors, 100)))        # non-negative input: one phase
    env.process(chip.mvm(matrix.ops.pop()))
    env.run()
    return env, ledger


def test_single_mvm_event_counts_are_pinned_in_both_fidelities():
    spec = dict(dac={"bits": 1, "input_bits": 4}, adc={"columns_per_adc": 8})
    steps = 3 * 4                                    # vectors · slices
    env_t, ledger_t = _single_mvm(hardware(**spec))
    env_d, ledger_d = _single_mvm(hardware(**spec, fidelity="detailed"))
    assert env_t.now == env_d.now
    # Ledger rows: bus in, DAC, array, ADC, bus out, host rescaling the outputs; detailed splits
    # DAC and array per step and the ADC per conversion slot (min(8, 20) = 8 slots per step).
    assert len(ledger_t.transactions()) == 6
    assert len(ledger_d.transactions()) == 3 + steps + steps + steps * 8
    assert conversions_per_slot(20, 8).tolist() == [3, 3, 3, 3, 2, 2, 2, 2]
    # SimPy events: the driver process (start + end), each bus transfer (request, timeout,
    # release), the tile process (start, 3 timeouts, end), the all_of condition and the host's
    # rescaling timeout = 15; detailed: each stage is a process (start, one timeout per unit, end).
    assert env_t.events_scheduled == 15
    assert env_d.events_scheduled == 15 - 3 + 3 * 2 + steps + steps + steps * 8


def test_detailed_makespan_within_one_picosecond_per_transaction_when_times_are_fractional():
    spec = dict(dac={"bits": 1, "input_bits": 8, "conversion_time": "1.3337 ns"},
                tile={"rows": 128, "cols": 128, "read_time": "7.77777 ns"}, adc={"clock": "77 MHz"})
    env_t, ledger_t = _single_mvm(hardware(**spec), vectors=5)
    env_d, _ = _single_mvm(hardware(**spec, fidelity="detailed"), vectors=5)
    assert abs(env_t.now - env_d.now) <= len(ledger_t.transactions())


def test_detailed_fidelity_is_a_spec_field_with_a_clear_error():
    from cosim.specs.base import SpecError
    with pytest.raises(Exception) as err:
        hardware(fidelity="exact")
    assert "fidelity" in str(err.value)
    del SpecError


# ----- queueing ---------------------------------------------------------------------------------

def test_littles_law_holds_for_every_component_of_a_training_run(small_run):
    for run in small_run.runs:
        q = small_run.summary["methods"][run.method]["queueing"]
        for name, s in q["components"].items():
            assert s["mean_in_system"] == pytest.approx(s["throughput_per_s"] * s["mean_time_in_system_s"],
                                                        rel=1e-9), (run.method, name)
            assert 0.0 < s["utilisation"] <= 1.0 + 1e-12
        digital = q["by_kind"].get("host") or q["by_kind"]["near_array"]    # whichever does the digital work
        assert digital["components"] == 1


def test_contention_gives_the_closed_form_waits_and_littles_law_with_queueing():
    """Five MVMs issued at once on one single-tile matrix: the bus serves their inputs one after
    another, so the k-th waits k transfer times; the tile's stages queue behind each other."""
    hw = hardware()
    rng = np.random.default_rng(1)
    env, ledger = CountingEnvironment(), Ledger()
    matrix = AnalogMatrix("m", rng.uniform(-0.5, 0.5, (64, 10)), hw, 1.0, rng)
    chip = Chip(env, hw, ledger, {"m": matrix})
    for _ in range(5):
        matrix.matmul(rng.random((4, 64)))
    for op in matrix.ops:
        env.process(chip.mvm(op))
    env.run()
    tx = ledger.transactions()
    stats = queueing_stats(tx, 0, env.now)
    transfer = to_ps(hw.bus.latency + 4 * 64 * hw.bus.weight_bits / hw.bus.bandwidth)
    inputs = tx[tx.op == "forward_in"]
    assert sorted((inputs.start_ps - inputs.issue_ps).tolist()) == [k * transfer for k in range(5)]
    for name, s in stats.items():
        assert s["mean_in_system"] == pytest.approx(s["throughput_per_s"] * s["mean_time_in_system_s"], rel=1e-9)
        waiting = (tx[tx.component == name].start_ps - tx[tx.component == name].issue_ps).mean() * 1e-12
        assert s["mean_waiting"] == pytest.approx(s["throughput_per_s"] * waiting, rel=1e-9)
    assert stats["bus"]["wait_s"]["p99"] > 3 * transfer * 1e-12 and stats["bus"]["wait_s"]["p50"] >= 0
    assert stats["m.tile0.0.adc"]["wait_s"]["p50"] > 0


def test_time_average_in_system_by_hand():
    # Two jobs: [0, 4) and [1, 3) in a window of 8 → ∫N = 4 + 2 = 6, L = 0.75.
    assert time_average_in_system(np.array([0, 1]), np.array([4, 3]), 0, 8) == pytest.approx(0.75)


# ----- trace ------------------------------------------------------------------------------------

def test_trace_of_the_default_run_validates_against_the_trace_event_schema(small_run):
    trace = json.loads(json.dumps(chrome_trace(small_run.runs)))
    jsonschema.validate(trace, SCHEMA)
    spans = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    wv = next(r for r in small_run.runs if r.method == "write_verify").ledger.transactions()
    tiles = set(wv[wv.kind == "tile"].component)
    matrices = {t.rsplit(".tile", 1)[0] for t in tiles}
    expected = ({"bus", "host"} | tiles | {f"{t}.adc" for t in tiles} | {f"{t}.dac" for t in tiles}
                | {f"{m}.verify_controller" for m in matrices})
    assert len(matrices) == 2 and expected <= set(names.values())
    by_track = {}
    for e in spans:
        by_track.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for track, intervals in by_track.items():   # Perfetto needs non-overlapping slices per track
        intervals.sort()
        assert all(b[0] >= a[1] - 1e-9 for a, b in zip(intervals, intervals[1:])), names[track]
    for pid, run in enumerate(small_run.runs, start=1):
        energy = sum(e["args"]["energy_j"] for e in spans if e["pid"] == pid and e["args"]["step"] >= 0
                     and e["cat"] != "controller")
        assert energy == pytest.approx(small_run.summary["methods"][run.method]["energy_j"]["total"], rel=1e-9)


def test_trace_is_bounded_by_sampling_whole_steps(small_run):
    full = chrome_trace(small_run.runs)
    small = chrome_trace(small_run.runs, max_events=400)
    jsonschema.validate(small, SCHEMA)
    assert sum(e["ph"] == "X" for e in small["traceEvents"]) <= 400
    kept = small["otherData"]["steps_kept"]["eapu"]
    assert kept[0] <= 0 and kept[-1] == 11 and len(kept) < 12
    assert all(len(v) >= 12 for v in full["otherData"]["steps_kept"].values())


def test_cli_writes_trace_and_report_gantt(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "--steps", "2", "--methods", "ideal", "--quiet", "--trace",
                 "--fidelity", "detailed", "--out", str(out)])
    assert code == 0
    jsonschema.validate(json.loads((out / "trace.json").read_text()), SCHEMA)
    assert (out / "step_gantt.png").exists() and "One training step (Gantt)" in (out / "report.html").read_text()
    assert json.loads((out / "summary.json").read_text())["fidelity"] == "detailed"
    assert main(["run", "--trace", "--trace-events", "0", "--out", str(out)]) == 2
    assert "--trace-events" in capsys.readouterr().err
