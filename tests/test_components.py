"""Conformance suite: every registered hardware component and controller passes the same checks.

For each component a small driver issues several overlapping requests; for each controller a
sample plan is programmed onto a multi-tile matrix, in both fidelities. Then, per component:
it books only the actions it declares; no two of its transactions overlap (capacity 1); starts
never precede issues and never go backwards (FIFO, time monotone); the simulation ends when its
last transaction does; each transaction's energy is the sum of its actions', and an action with
a declared unit energy costs count × that energy (energy = ledger).
"""
from __future__ import annotations

import numpy as np
import pytest
import simpy

from cosim.costs.actions import ActionCosts
from cosim.hardware.accounting import PHASES, RINGS
from cosim.hardware.chip import Chip
from cosim.hardware.registry import ACTIONS, COMPONENTS, CONTROLLERS, by_ring, phase_of, within
from cosim.nn.analog import AnalogMatrix
from cosim.rules.plan import WritePlan
from cosim.sim.ledger import Ledger
from tests.conftest import hardware


def _host(env, costs, ledger):
    host = next(cls for cls in COMPONENTS if cls.__name__ == "Host")(env, costs, ledger)
    return [host.compute("forward", 1000, 50), host.compute("update_rule", 0, 20, 300),
            host.compute("backward", 64, 0)]


def _bus(env, costs, ledger):
    bus = next(cls for cls in COMPONENTS if cls.__name__ == "HostBus")(env, costs, ledger)
    return [env.process(bus.transfer(op, bits)) for op, bits in
            (("forward_in", 4096), ("backward_out", 640), ("write_plan", 32))]


def _tile_parts(detailed):
    def drive(env, costs, ledger):
        from cosim.hardware.tile import Tile
        tile = Tile(env, "m.tile0.0", costs, ledger, detailed)
        return [env.process(tile.mvm("forward", 6, 100, 37, 1e-3)), env.process(tile.mvm("backward", 3, 37, 100, 5e-4)),
                tile.program("open_loop_write", 1e-6, {"program_pulse": (12, 3e-12)})]
    return drive


def _buffer(env, costs, ledger):
    from cosim.hardware.buffer import ActivationBuffer
    buffer = ActivationBuffer(env, costs, ledger)
    return [buffer.access("forward_out", 2048), buffer.access("backward_in", 512), buffer.access("write_plan", 64)]


def _near_array(env, costs, ledger):
    from cosim.hardware.near_array import NearArrayUnit
    unit = NearArrayUnit(env, costs, ledger)
    return [unit.compute("weight_gradient", 4096, 0), unit.compute("update_rule", 0, 64, 64),
            unit.compute("forward", 0, 640)]


# Component class name -> driver(env, costs, ledger) -> events. Every registered one needs a driver.
DRIVERS = {"Host": _host, "HostBus": _bus, "ActivationBuffer": _buffer, "NearArrayUnit": _near_array, "Tile": _tile_parts(False), "DACBank": _tile_parts(False),
           "ADCBank": _tile_parts(False)}


def test_every_registered_component_has_a_driver():
    assert {cls.__name__ for cls in COMPONENTS} == set(DRIVERS)


def _check(ledger: Ledger, env: simpy.Environment, costs: ActionCosts, classes_by_kind: dict) -> None:
    tx, acts = ledger.transactions(), ledger.actions()
    assert len(tx) and (tx.start_ps >= tx.issue_ps).all() and (tx.end_ps >= tx.start_ps).all()
    assert env.now == tx.end_ps.max()                      # ends when the last transaction does
    for _, rows in tx.groupby("component", sort=False):
        starts, ends = rows.start_ps.to_numpy(), rows.end_ps.to_numpy()
        order = np.argsort(starts, kind="stable")
        assert (starts[order][1:] >= ends[order][:-1]).all(), "capacity: two transactions overlap"
        assert (np.diff(starts) >= 0).all(), "FIFO: a later request started earlier"
    for kind, rows in acts.groupby("kind"):
        declared = {a.name: a for a in classes_by_kind[kind].ACTIONS}
        assert set(rows.action) <= set(declared), f"{kind} books undeclared actions"
        for name, count, energy in rows[["action", "count", "energy_j"]].itertuples(index=False):
            unit = declared[name].unit_energy
            if unit is not None:
                assert energy == pytest.approx(count * unit(costs), rel=1e-12, abs=1e-30)
    per_tx = acts.groupby("tx").energy_j.sum().reindex(range(len(tx)), fill_value=0.0)
    assert np.allclose(per_tx.to_numpy(), tx.energy_j.to_numpy(), rtol=1e-12, atol=0)


def _kinds() -> dict:
    return {cls.kind: cls for cls in COMPONENTS}


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_component_conformance(name):
    hw = hardware()
    env, ledger, costs = simpy.Environment(), Ledger(), ActionCosts(hw)
    ledger.step = 0
    events = DRIVERS[name](env, costs, ledger)
    env.run(env.all_of(events))
    env.run()
    _check(ledger, env, costs, _kinds())


@pytest.mark.parametrize("fidelity", ["transaction", "detailed"])
@pytest.mark.parametrize("mode", sorted(CONTROLLERS))
def test_controller_conformance(mode, fidelity):
    hw = hardware(tile={"rows": 16, "cols": 16}, adc={"columns_per_adc": 4}, fidelity=fidelity)
    rng = np.random.default_rng(7)
    matrix = AnalogMatrix("m", rng.uniform(-0.5, 0.5, (40, 20)), hw, 1.0, rng)   # 3 x 2 tiles
    env, ledger = simpy.Environment(), Ledger()
    ledger.step = 0
    chip = Chip(env, hw, ledger, {"m": matrix})
    cells = np.sort(rng.choice(matrix.in_features * matrix.out_features, 300, replace=False))
    plan = WritePlan(mode, cells, rng.normal(0.0, 0.05, cells.size), value_bits=16)
    process = env.process(chip.program("m", plan))
    env.run()
    outcome = process.value
    _check(ledger, env, ActionCosts(hw), _kinds())
    acts = ledger.actions()
    tx = ledger.transactions()
    assert set(tx[tx.kind == "tile"].op) == {CONTROLLERS[mode].op}
    pulses = acts[acts.action == "program_pulse"]["count"].sum()
    assert pulses == pytest.approx(float(outcome.device_pulses.sum()))
    if mode == "verify":
        assert acts[acts.action == "verify_read"]["count"].sum() == pytest.approx(float(outcome.reads.sum()))


def test_every_action_has_one_ring_and_a_phase_for_every_op_it_serves(small_run):
    for run in small_run.runs:
        acts, tx = run.ledger.actions(), run.ledger.transactions()
        for op, action in set(zip(tx.op.to_numpy()[acts.tx.to_numpy()], acts.action)):
            assert ACTIONS[action].ring in RINGS
            assert phase_of(op, action) in PHASES


def test_boundaries_partition_the_total(small_run):
    for name, method in small_run.summary["methods"].items():
        energy = method["energy_j"]
        rings = by_ring(energy["by_action"])
        assert sum(rings.values()) == pytest.approx(energy["total"], rel=1e-12, abs=0), name
        assert within(energy["by_action"], "host") == pytest.approx(energy["total"], rel=1e-12, abs=0)
        boundary = energy["by_boundary"]
        assert boundary["chip"] == pytest.approx(rings["array"] + rings["converters"] + rings["chip"], rel=1e-12)
        assert boundary["chip_bus_host"] == pytest.approx(energy["total"], rel=1e-12, abs=0)


def test_an_undeclared_action_fails_loudly():
    with pytest.raises(KeyError, match="no component declares it"):
        by_ring({"mystery_action": 1.0})


def test_every_write_plan_mode_but_digital_has_one_controller():
    from typing import get_args

    from cosim.rules.plan import Mode
    assert set(CONTROLLERS) == set(get_args(Mode)) - {"digital"}


def test_phases_and_rings_partition_the_total(small_run):
    for name, method in small_run.summary["methods"].items():
        energy = method["energy_j"]
        assert set(energy["by_phase"]) == set(PHASES)
        cells = [e for rings in energy["by_phase_ring"].values() for e in rings.values()]
        assert sum(cells) == pytest.approx(energy["total"], rel=1e-12, abs=0), name
        assert sum(energy["by_phase"].values()) == pytest.approx(energy["total"], rel=1e-12, abs=0), name
        rings = by_ring(energy["by_action"])
        for ring in RINGS:   # the phase x ring table's columns are the rings of by_action
            assert sum(r[ring] for r in energy["by_phase_ring"].values()) == pytest.approx(rings[ring], rel=1e-12, abs=1e-30)
    bp = small_run.summary["methods"]["bp_open_loop"]["energy_j"]["by_phase_ring"]
    assert bp["weight_gradient"]["chip"] > 0 and bp["update.programming"]["array"] > 0
    assert bp["update.traffic"]["chip"] > 0 and bp["forward"]["converters"] > 0 and bp["forward"]["link"] > 0
    wv = small_run.summary["methods"]["write_verify"]["energy_j"]["by_phase"]
    assert wv["update.verify"] > 0


@pytest.mark.parametrize("inhibit", [False, True])
@pytest.mark.parametrize("fidelity", ["transaction", "detailed"])
def test_write_path_prices_lines_per_row_slot_and_pulse_and_the_supply_loss(fidelity, inhibit):
    hw = hardware(tile={"rows": 16, "cols": 16}, fidelity=fidelity,
                  write_path={"line_capacitance_per_cell": "2 fF", "word_line_voltage": "1.5 V",
                              "supply_efficiency": 0.5, "inhibit_unselected": inhibit})
    rng = np.random.default_rng(3)
    matrix = AnalogMatrix("m", rng.uniform(-0.5, 0.5, (16, 16)), hw, 1.0, rng)    # one tile
    env, ledger = simpy.Environment(), Ledger()
    ledger.step = 0
    chip = Chip(env, hw, ledger, {"m": matrix})
    cells = np.array([3, 5, 40, 41, 200])                                          # rows 0, 0, 2, 2, 12
    process = env.process(chip.program("m", WritePlan("open_loop", cells, np.full(5, 0.05), value_bits=16)))
    env.run()
    out = process.value
    row = (out.devices % 256) // 16
    slots = sum(max([p for p, r, u in zip(out.pulses, row, out.potentiating) if r == k and u == up], default=0)
                for k in set(row.tolist()) for up in (True, False))
    acts = ledger.actions().groupby("action").agg({"count": "sum", "energy_j": "sum"})
    c, vw = 2e-15, hw.device.write_voltage
    pulses = float(out.pulses.sum())
    # Inhibiting: each row with a SET train holds its 32 device columns but the SET-pulsed ones at V_w, once.
    setting = [r for r, p, u in zip(row, out.pulses, out.potentiating) if u and p > 0]
    inhibited = sum(32 - setting.count(k) for k in set(setting)) if inhibit else 0
    assert (inhibited > 0) == inhibit
    at_vw = (pulses + inhibited) * 16 * c * vw ** 2
    assert acts.loc["line_charge", "count"] == slots
    assert acts.loc["line_charge", "energy_j"] == pytest.approx(slots * 32 * c * 1.5 ** 2 + at_vw)
    cell = acts.loc["program_pulse", "energy_j"]
    assert acts.loc["write_supply_loss", "energy_j"] == pytest.approx(cell + at_vw)  # 1/0.5 - 1


def _step_traffic(hw, steps=2):
    import cosim.api as api
    from tests.conftest import workload
    run = api.run(workload(steps=steps, methods=("bp_open_loop",)), hw).runs[0]
    tx = run.ledger.transactions()
    return tx[tx.step >= 0].groupby(["kind", "op"]).size()


def test_activations_stay_in_the_buffer_when_they_fit_and_cross_the_link_when_not():
    fits = _step_traffic(hardware())
    assert fits[("bus", "forward_data")] == 2 and ("bus", "forward_in") not in fits
    assert fits[("buffer", "forward_in")] > 0 and fits[("buffer", "write_plan")] > 0
    assert ("host", "weight_gradient") not in fits and fits[("near_array", "weight_gradient")] > 0
    spills = _step_traffic(hardware(buffer={"capacity": "1 KB"}))
    assert ("buffer", "forward_in") not in spills and spills[("bus", "forward_in")] > 0
    host_centric = _step_traffic(hardware(buffer=None, near_array=None))
    assert host_centric[("bus", "write_plan")] > 0 and host_centric[("host", "weight_gradient")] > 0


def test_dense_plans_send_no_addresses_and_sparse_plans_do():
    hw = hardware(buffer=None, near_array=None)
    rng = np.random.default_rng(0)
    matrix = AnalogMatrix("m", rng.uniform(-0.5, 0.5, (8, 4)), hw, 1.0, rng)
    chip = Chip(simpy.Environment(), hw, Ledger(), {"m": matrix})
    dense = WritePlan("open_loop", np.arange(32), np.zeros(32), value_bits=16)
    sparse = WritePlan("open_loop", np.arange(5), np.zeros(5), value_bits=16)
    assert chip.plan_bits(dense, 32) == 32 * 16
    assert chip.plan_bits(sparse, 32) == 5 * (16 + hw.bus.address_bits)


def test_per_row_figures_of_stacked_iterations_equal_each_iteration_alone():
    """Write-verify prices all its iterations at once: per-row maxima, counts, pulse slots and
    inhibited lines of (iterations, devices) arrays are, row for row, those of each iteration."""
    from cosim.hardware.cell_map import RowMap, per_row_count, per_row_max
    from cosim.hardware.open_loop_controller import inhibited_lines, row_pulse_slots

    rng = np.random.default_rng(4)
    n_rows, devices, iterations = 7, 30, 5
    rows = RowMap(rng.integers(0, n_rows, devices), n_rows, np.zeros(n_rows, dtype=np.intp), 1)
    pulses = rng.integers(0, 4, (iterations, devices)).astype(float)
    up = rng.random((iterations, devices)) < 0.5
    for stacked, alone in [(per_row_max(rows.row_key, pulses, n_rows), lambda i: per_row_max(rows.row_key, pulses[i], n_rows)),
                           (per_row_count(rows.row_key, pulses > 1, n_rows), lambda i: per_row_count(rows.row_key, pulses[i] > 1, n_rows)),
                           (row_pulse_slots(rows, pulses, up), lambda i: row_pulse_slots(rows, pulses[i], up[i])),
                           (inhibited_lines(rows, pulses, up, 16), lambda i: inhibited_lines(rows, pulses[i], up[i], 16))]:
        assert stacked.shape == (iterations, n_rows)
        assert np.array_equal(stacked, np.stack([alone(i) for i in range(iterations)]))
    assert inhibited_lines(rows, pulses, up, 16).max() <= 32 and per_row_count(rows.row_key, up, n_rows).sum() == up.sum()
