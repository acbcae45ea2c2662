import numpy as np
import pytest

import cosim.api as api
from cosim.devices.array import DeviceArray
from cosim.devices.programming import program_open_loop, program_verify_delta
from cosim.rules import RuleContext, make_rule
from tests.conftest import hardware, workload


def _array(seed=0, shape=(64, 64), **device):
    return DeviceArray(hardware(device=device).device, shape, np.random.default_rng(seed))


def test_conductance_stays_within_bounds_under_many_pulses():
    arr = _array(stuck_fraction=0.0)
    cells = np.arange(arr.x[0].size)
    for sign in (1, -1, 1):
        program_open_loop(arr, cells, np.full(cells.size, sign * 3.0), now=0.0)
    g = arr.conductance()
    spec = arr.spec
    assert g.min() >= spec.g_min - 1e-18 and g.max() <= spec.g_max + 1e-18


def test_pulse_response_is_monotone_in_expectation():
    arr = _array(write_noise=0.0, stuck_fraction=0.0)
    x = np.linspace(0, 1, 101)
    up = arr.response.after_pulses(x, np.ones_like(x), np.ones_like(x))
    down = arr.response.after_pulses(x, -np.ones_like(x), np.ones_like(x))
    assert (up >= x).all() and (down <= x).all()
    assert (np.diff(up) > 0).all()
    # Nonlinearity: potentiation steps shrink towards g_max.
    assert (up - x)[10] > (up - x)[90]


def test_write_noise_statistics_match_spec():
    sigma = 0.037
    arr = _array(seed=1, shape=(200, 200), stuck_fraction=0.0, step_spread=0.0, levels=None,
                 nonlinearity_up=0.0, nonlinearity_down=0.0)
    arr.x[0] = 0.5
    cells = np.arange(arr.x[0].size)
    program_open_loop(arr, cells, np.full(cells.size, 0.1), now=0.0)
    landed = arr.x[0].ravel() - 0.6
    assert abs(landed.mean()) < 4 * sigma / 200
    assert landed.std() == pytest.approx(sigma, rel=0.03)


def test_stuck_devices_do_not_move_but_count_pulses():
    arr = _array(stuck_fraction=0.3)
    stuck_before = arr.x[arr.stuck].copy()
    cells = np.arange(arr.x[0].size)
    program_open_loop(arr, cells, np.full(cells.size, 0.2), now=1.0)
    assert np.array_equal(arr.x[arr.stuck], stuck_before)
    assert arr.pulse_count.sum() > 0


def test_wear_out_sticks_devices_and_costs_accuracy():
    worn = hardware(device={"endurance_median": 5, "endurance_sigma": 0.2})
    wl = workload(steps=60, methods=("bp_open_loop",))
    healthy = api.run(wl, hardware()).runs[0]
    broken = api.run(wl, worn).runs[0]
    assert broken.metric_values[-1] < healthy.metric_values[-1] - 0.2
    assert broken.training_writes.max() >= 5


def test_write_verify_lands_within_tolerance():
    arr = _array(seed=2, stuck_fraction=0.0, read_noise=0.0)
    arr.set_exact(np.full(arr.shape, 0.3))
    cells = np.arange(arr.x[0].size)
    wanted = np.full(cells.size, 0.2)
    outcome = program_verify_delta(arr, cells, wanted, tolerance=0.025, max_iterations=50,
                                   max_pulses=30, reads=1, now=0.0)
    # A few cells with a weak pulse response can exhaust the iterations (as on real chips).
    assert outcome.converged.mean() > 0.995
    landed = arr.x.flat[outcome.devices[outcome.converged]]
    assert np.abs(landed - 0.5).max() <= 0.025 + 1e-12
    assert outcome.iterations.max() > 1          # noise forces some retries


def test_eapu_update_is_unbiased_and_sparse():
    rule = make_rule("eapu")
    ctx = RuleContext(sigma_write=0.037, weight_bits=16)
    delta = np.full(200_000, 0.001)
    (plan,) = rule.plan(delta, ctx, np.random.default_rng(0))
    realised = np.zeros_like(delta)
    realised[plan.cells] = plan.delta
    assert realised.mean() == pytest.approx(0.001, rel=0.05)
    assert plan.cells.size / delta.size == pytest.approx(0.001 / 0.037, rel=0.05)
    assert np.allclose(np.abs(plan.delta), 0.037)


def test_open_loop_writes_every_nonzero_update():
    (plan,) = make_rule("bp_open_loop").plan(np.array([[0.0, 1e-6], [-2e-3, 0.0]]),
                                          RuleContext(0.037, 16), np.random.default_rng(0))
    assert list(plan.cells) == [1, 2]


def test_same_seed_same_device_state():
    a, b = _array(seed=7), _array(seed=7)
    cells = np.arange(a.x[0].size)
    for arr in (a, b):
        program_open_loop(arr, cells, np.full(cells.size, 0.05), now=0.0)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.stuck, b.stuck)


# ----- the rules added with the device library ---------------------------------------------------
def test_mixed_precision_transfers_whole_thresholds_and_keeps_the_remainder():
    rule = make_rule("mixed_precision")
    ctx = RuleContext(sigma_write=0.04, weight_bits=16, matrix="m")
    delta = np.array([0.015, -0.03, 0.001])
    written = np.zeros(3)
    for _ in range(3):
        (plan,) = rule.plan(delta, ctx, np.random.default_rng(0))
        written[plan.cells] += plan.delta
        assert np.allclose(np.abs(plan.delta) / 0.04, np.rint(np.abs(plan.delta) / 0.04))
    # Nothing lost: written + accumulator = everything asked for.
    assert np.allclose(written + rule.accumulators["m"], 3 * delta)
    assert np.all(np.abs(rule.accumulators["m"]) < 0.04)
    assert list(np.flatnonzero(written)) == [0, 1]


def test_manhattan_writes_one_pulse_step_by_sign():
    ctx = RuleContext(sigma_write=0.037, weight_bits=16, pulse_step=1 / 128)
    (plan,) = make_rule("manhattan").plan(np.array([[0.2, 0.0], [-1e-6, 3e-3]]), ctx, np.random.default_rng(0))
    assert list(plan.cells) == [0, 2, 3]
    assert np.allclose(plan.delta, [1 / 128, -1 / 128, 1 / 128])


def test_adaptive_eapu_threshold_follows_each_cells_current_sigma():
    sigma = np.array([0.02, 0.08])
    rule = make_rule("eapu_adaptive")
    delta = np.tile(np.array([0.004, 0.004]), 100_000)
    ctx = RuleContext(0.02, 16, current_sigma=lambda: np.tile(sigma, 100_000))
    (plan,) = rule.plan(delta, ctx, np.random.default_rng(1))
    cols = plan.cells % 2
    assert np.allclose(np.abs(plan.delta), sigma[cols])
    for c in (0, 1):   # unbiased per cell: written fraction × step = ΔW
        rate = (cols == c).sum() / 100_000
        assert rate * sigma[c] == pytest.approx(0.004, rel=0.05)


def test_tiki_taka_moves_what_the_fast_matrix_holds_onto_the_slow_one():
    from cosim.nn.analog import AnalogMatrix
    from tests.conftest import ideal_hardware
    hw = ideal_hardware()
    fast = AnalogMatrix("w.fast", np.zeros((4, 3)), hw, 1.0, np.random.default_rng(0))
    fast.devices.set_exact(np.array([[0.3, -0.2, 0.0]] + [[0.0] * 3] * 3))
    rule = make_rule("tiki_taka")
    ctx = RuleContext(0.0, 16, matrix="w", pulse_step=None, fast=fast)
    plans = rule.plan(np.full((4, 3), 0.01), ctx, np.random.default_rng(0))
    to_slow, reset_fast, update_fast = plans
    assert list(to_slow.cells) == [0, 1] and np.allclose(to_slow.delta, [0.3, -0.2])
    assert reset_fast.target == ".fast" and np.allclose(reset_fast.delta, [-0.3, 0.2])
    assert update_fast.target == ".fast" and update_fast.cells.size == 12
    assert len(fast.ops) == 1                      # the read is a priced MVM on the fast tiles


def test_all_rules_run_and_tiki_taka_prices_its_fast_tiles():
    from cosim.registry import RULES
    result = api.run(workload(steps=6, methods=RULES.names()), hardware())
    methods = result.summary["methods"]
    assert set(methods) == set(RULES.names())
    assert methods["tiki_taka"]["tiles"] == 2 * methods["bp_open_loop"]["tiles"]
    assert methods["mixed_precision"]["writes"]["cell_writes"] < methods["bp_open_loop"]["writes"]["cell_writes"]
    wv = methods["write_verify"]["programming"]["write_verify"]
    assert wv["verify_reads"] > 0 and wv["iterations_per_device"]["max"] >= wv["iterations_per_device"]["p50"] >= 1
    life = methods["eapu"]["lifetime"]
    assert life["steps_to_first_cell_failure_vs_bp_open_loop"] == pytest.approx(
        life["steps_to_first_cell_failure"] / methods["bp_open_loop"]["lifetime"]["steps_to_first_cell_failure"])


def test_stuck_cells_at_start_cost_weight_accuracy_and_spares_recover_it():
    """Cells stuck at start leave the programmed weights off their targets; spare columns
    remap the worst columns and bring the error down. (The test accuracy after 60 steps, checked
    here before, depends on the seed more than on 30 % stuck cells: seeds 3-8 averaged 0.59
    clean and 0.64 stuck on the code of c76999f.)"""
    from cosim.nn.tasks import load_task
    from cosim.sim.training import Trainer

    wl = workload(steps=1, methods=("bp_open_loop",))
    task = load_task(wl.data, wl.network.build().input_shape)

    def programmed(hw):
        trainer = Trainer("bp_open_loop", wl, hw, task)
        trainer.train()
        matrices = trainer.state.matrices.values()
        error = np.mean([np.abs(m.weights() - trainer.state.initial[n]).mean() for n, m in trainer.state.matrices.items()])
        return error, sum(m.remapped_cols for m in matrices), sum(m.devices.stuck_at_start for m in matrices)
    clean = programmed(hardware(device={"stuck_fraction": 0.0}))
    bad = programmed(hardware(device={"stuck_fraction": 0.3}))
    fixed = programmed(hardware(device={"stuck_fraction": 0.3}, tile={"spare_cols": 48}))
    assert bad[0] > 2 * clean[0] and fixed[0] < bad[0]
    assert fixed[1] > 0 and fixed[2] < bad[2]


@pytest.mark.slow
def test_tiki_taka_with_full_transfer_on_ideal_hardware_matches_sgd():
    """Noiseless devices, every row transferred every step: C is SGD with gradients one step
    stale, so after a full run it reaches SGD's accuracy (early on the two differ)."""
    from tests.conftest import ideal_hardware
    raw = workload(steps=400, methods=("bp_open_loop", "tiki_taka")).model_dump()
    raw["rules"]["tiki_taka"]["rows_per_transfer"] = 64
    from cosim.specs.workload import WorkloadSpec
    methods = api.run(WorkloadSpec.model_validate(raw), ideal_hardware()).summary["methods"]
    assert methods["tiki_taka"]["metric"]["value"] == pytest.approx(methods["bp_open_loop"]["metric"]["value"], abs=0.03)


def test_retention_checks_measure_the_drifted_network():
    # lr 2: with nearest pulse rounding bp needs updates above half a pulse to learn in 20 steps
    wl = workload(steps=20, methods=("bp_open_loop",), retention_checks=["3600 s", "1e5 s"], learning_rate=2.0)
    steady = hardware(device={"read_noise": 0.0, "relaxation_shift": 0.0, "relaxation_sigma": 0.0})
    relaxing = hardware(device={"read_noise": 0.0, "relaxation_sigma": 0.2})
    kept = api.run(wl, steady).summary["methods"]["bp_open_loop"]
    lost = api.run(wl, relaxing).summary["methods"]["bp_open_loop"]
    assert list(kept["retention"]) == ["3600 s", "100000 s"]
    assert all(v == kept["metric"]["value"] for v in kept["retention"].values())
    assert lost["retention"]["100000 s"] < lost["metric"]["value"] - 0.1
