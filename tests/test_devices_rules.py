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
    plan = rule.plan(delta, ctx, np.random.default_rng(0))
    realised = np.zeros_like(delta)
    realised[plan.cells] = plan.delta
    assert realised.mean() == pytest.approx(0.001, rel=0.05)
    assert plan.cells.size / delta.size == pytest.approx(0.001 / 0.037, rel=0.05)
    assert np.allclose(np.abs(plan.delta), 0.037)


def test_open_loop_writes_every_nonzero_update():
    plan = make_rule("bp_open_loop").plan(np.array([[0.0, 1e-6], [-2e-3, 0.0]]),
                                          RuleContext(0.037, 16), np.random.default_rng(0))
    assert list(plan.cells) == [1, 2]


def test_same_seed_same_device_state():
    a, b = _array(seed=7), _array(seed=7)
    cells = np.arange(a.x[0].size)
    for arr in (a, b):
        program_open_loop(arr, cells, np.full(cells.size, 0.05), now=0.0)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.stuck, b.stuck)
