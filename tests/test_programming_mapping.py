"""Weight mapping, pulse rounding and the programming conventions of issue 12."""
import numpy as np
import pytest

import cosim.api as api
from cosim.devices.array import DeviceArray
from cosim.devices.mapping import mapping_scale, zero_layer_max_abs
from cosim.devices.programming import program_open_loop
from cosim.devices.response import round_pulses
from cosim.nn.analog import AnalogMatrix
from tests.conftest import hardware, ideal_hardware, workload


def _array(shape=(32, 32), seed=0, **device):
    base = {"stuck_fraction": 0.0, "step_spread": 0.0}
    return DeviceArray(hardware(device={**base, **device}).device, shape, np.random.default_rng(seed))


# ----- mapping ----------------------------------------------------------------------------------
def test_max_abs_mapping_puts_the_largest_weight_at_one_over_headroom():
    w = np.array([[0.1, -0.4], [0.2, 0.05]])
    assert mapping_scale(w, "max_abs", 2.0) == pytest.approx(0.8)
    assert np.allclose(mapping_scale(w, "max_abs", 2.0, "column"), [0.4, 0.8])
    assert mapping_scale(w, "fixed", fixed_bound=1.5) == 1.5


def test_zero_layer_gets_the_scale_of_its_init_distribution_not_the_fixed_bound():
    w = np.zeros((288, 1))
    assert mapping_scale(w, "max_abs", 2.0) == pytest.approx(2.0 * 3.0 * np.sqrt(2.0 / 288))
    assert np.allclose(mapping_scale(np.zeros((50, 3)), "max_abs", 2.0, "column"), 2.0 * zero_layer_max_abs(50))


def test_bad_mapping_parameters_are_refused():
    with pytest.raises(ValueError, match="policy"):
        mapping_scale(np.ones((2, 2)), "median")
    with pytest.raises(ValueError, match="headroom"):
        mapping_scale(np.ones((2, 2)), "max_abs", 0.5)


@pytest.mark.parametrize("policy,granularity", [("fixed", "layer"), ("max_abs", "layer"), ("max_abs", "column")])
def test_noiseless_training_equals_fp_reference_under_every_mapping(policy, granularity):
    wl = workload(steps=8, methods=("ideal", "bp_open_loop", "write_verify", "eapu"),
                  mapping={"policy": policy, "granularity": granularity}, weight_bound=4.0)
    runs = {r.method: r for r in api.run(wl, ideal_hardware()).runs}
    for method in ("bp_open_loop", "write_verify", "eapu"):
        assert np.allclose(runs[method].loss, runs["ideal"].loss, rtol=1e-9, atol=1e-12), (method, policy)


def test_column_mapping_mvm_equals_matmul_both_directions():
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.1, (40, 6)) * np.array([1, 5, 0.2, 1, 3, 0.5])
    scale = mapping_scale(w, "max_abs", 2.0, "column")
    m = AnalogMatrix("w", w, ideal_hardware(), scale, rng)
    m.devices.set_exact(w / scale)
    x, dy = rng.normal(size=(3, 40)), rng.normal(size=(3, 6))
    assert np.allclose(m.weights(), w)
    assert np.allclose(m.matmul(x), x @ w, atol=1e-12)
    assert np.allclose(m.matmul_t(dy), dy @ w.T, atol=1e-12)
    assert np.allclose(m.to_fraction(np.array([1, 7]), np.array([0.1, 0.1])), 0.1 / scale[[1, 1]])


def test_default_mapping_uses_more_of_the_range_than_the_fixed_bound():
    wl = workload(steps=1, methods=("bp_open_loop",))
    fixed = workload(steps=1, methods=("bp_open_loop",), mapping={"policy": "fixed"})
    used = {}
    for name, spec in (("max_abs", wl), ("fixed", fixed)):
        from cosim.sim.training import Trainer
        from cosim.nn.tasks import load_task
        trainer = Trainer("bp_open_loop", spec, hardware(), load_task(spec.data, spec.network.build().input_shape))
        used[name] = max(float(np.abs(trainer.state.initial[n]).max() / m.weight_bound)
                         for n, m in trainer.state.matrices.items())
    assert used["max_abs"] == pytest.approx(0.5)
    assert used["fixed"] < 0.3


# ----- pulse rounding ---------------------------------------------------------------------------
def test_round_pulses_conventions():
    exact = np.array([0.0, 0.3, -0.3, 0.5, 1.49, -2.6])
    assert np.array_equal(round_pulses(exact, "nearest"), [0, 0, 0, 1, 1, -3])
    assert np.array_equal(round_pulses(exact, "at_least_one"), [0, 1, -1, 1, 1, -3])
    draws = round_pulses(np.full(200_000, 0.3), "stochastic", np.random.default_rng(0))
    assert set(np.unique(draws)) == {0.0, 1.0}
    assert draws.mean() == pytest.approx(0.3, abs=4 * np.sqrt(0.21 / draws.size))
    with pytest.raises(ValueError):
        round_pulses(exact, "stochastic")


def test_nearest_rounding_of_a_sub_half_step_update_writes_nothing():
    arr = _array()
    cells = np.arange(arr.x[0].size)
    before = arr.x.copy()
    outcome = program_open_loop(arr, cells, np.full(cells.size, 0.4 / arr.response.levels), now=0.0)
    assert outcome.pulses.sum() == 0 and outcome.device_writes.sum() == 0
    assert np.array_equal(arr.x, before) and arr.write_count.sum() == 0


def test_at_least_one_rounding_writes_every_nonzero_update():
    arr = _array(rounding="at_least_one")
    cells = np.arange(arr.x[0].size)
    outcome = program_open_loop(arr, cells, np.full(cells.size, 0.01 / arr.response.levels), now=0.0)
    assert np.all(outcome.pulses == 1)


def test_at_least_one_bp_equals_manhattan():
    # a small learning rate: no update reaches 1.5 pulses, so at_least_one gives every one pulse
    wl = workload(steps=6, methods=("bp_open_loop", "manhattan"), learning_rate=0.01)
    hw = hardware(device={"rounding": "at_least_one"})
    runs = {r.method: r for r in api.run(wl, hw).runs}
    bp, manhattan = runs["bp_open_loop"], runs["manhattan"]
    # bp gives each written weight exactly one pulse by the sign of ΔW: the Manhattan rule. The
    # trajectories differ only where Manhattan's full step crosses zero (two trains, one per device).
    assert np.all(bp.pulses - bp.cells_written <= 1e-3 * bp.cells_written)
    assert np.array_equal(bp.cells_written, manhattan.cells_written)
    assert np.all(manhattan.pulses - bp.pulses < 0.01 * bp.pulses)


# ----- EaPU's step on the device ------------------------------------------------------------------
def _eapu_change(compensate: bool, delta_sign: float, seed=0, mixed_signs=True):
    """Mean weight change EaPU makes per cell on a noisy device, and its standard error."""
    from cosim.devices.programming import program_open_loop as write
    from cosim.rules import context_for
    from cosim.rules.eapu import EapuRule
    # Small cycle noise (one-pulse steps) so the bounds never clip; weights where trained weights
    # live (x 0.05-0.3 of the range), where depression steps are ~0.8 of potentiation steps.
    hw = hardware(device={"stuck_fraction": 0.0, "read_noise": 0.0, "write_noise": 0.005})
    rng = np.random.default_rng(seed)
    states = rng.uniform(0.05, 0.3, (300, 300))
    if mixed_signs:
        states *= np.where(rng.random(states.shape) < 0.5, 1.0, -1.0)
    m = AnalogMatrix("w", states, hw, 1.0, rng)
    m.devices.set_exact(states)
    ctx = context_for("w", m, hw, 1.0, 0.0)
    rule = EapuRule(k=1.0, compensate_asymmetry=compensate)
    step = rule.pulses(ctx) * ctx.pulse_step
    delta = np.full(states.shape, delta_sign * 0.5 * step)
    before = m.weights()
    (plan,) = rule.plan(delta, ctx, rng)
    write(m.devices, plan.cells, m.to_fraction(plan.cells, plan.delta), 0.0)
    change = (m.weights() - before).ravel()
    return change.mean(), change.std() / np.sqrt(change.size), delta[0, 0]


def test_eapu_step_is_a_whole_pulse_count_nearest_k_sigma():
    from cosim.rules import context_for
    from cosim.rules.eapu import EapuRule
    hw = hardware()
    m = AnalogMatrix("w", np.full((2, 2), 0.1), hw, 1.0, np.random.default_rng(0))
    ctx = context_for("w", m, hw, 1.0, 0.0)
    assert EapuRule(k=1.0).pulses(ctx) == 5            # 0.037 · 128 = 4.7 pulses
    assert EapuRule(k=0.05).pulses(ctx) == 1           # at least one pulse
    # effective k = step / (σ √n) of the 5-pulse write
    assert EapuRule(k=1.0).effective_k(ctx) == pytest.approx(5 / 128 / (0.037 * np.sqrt(5)))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_eapu_change_is_unbiased_on_the_device(sign):
    mean, se, wanted = _eapu_change(True, sign)
    assert abs(mean - wanted) < 4 * se, (mean, wanted, se)


def test_uncompensated_eapu_is_biased_by_the_up_down_asymmetry():
    # positive weights: +ΔW potentiates the + device, -ΔW depresses it
    mean_up, se_up, wanted = _eapu_change(False, 1.0, mixed_signs=False)
    mean_down, se_down, _ = _eapu_change(False, -1.0, mixed_signs=False)
    # depression steps (ν_down 0.63) are smaller than potentiation steps (ν_up 0.04)
    assert abs(mean_up) - abs(mean_down) > 4 * np.hypot(se_up, se_down)


# ----- write-verify that accumulates --------------------------------------------------------------
def test_write_verify_accumulates_until_the_tolerance_and_converges_within_it():
    from cosim.devices.programming import device_changes, program_verify_delta
    from cosim.rules import context_for, make_rule
    hw = hardware(device={"stuck_fraction": 0.0, "read_noise": 0.0})
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.3, 0.3, (16, 16))
    m = AnalogMatrix("w", w, hw, 1.0, rng)
    m.devices.set_exact(w)
    ctx = context_for("w", m, hw, 1.0, 0.0)
    tol = hw.write_verify.tolerance
    assert ctx.verify_tolerance == pytest.approx(tol)
    rule = make_rule("write_verify")
    small = np.full(w.shape, 0.4 * tol)
    assert rule.plan(small, ctx, rng)[0].cells.size == 0
    assert rule.plan(small, ctx, rng)[0].cells.size == 0
    (plan,) = rule.plan(small, ctx, rng)                    # 1.2 tol accumulated: now it writes
    assert plan.cells.size == w.size and np.allclose(plan.delta, 1.2 * tol)
    assert rule.plan(small, ctx, rng)[0].cells.size == 0    # the accumulator restarted
    x_before = m.devices.x.copy()
    device_changes_before = device_changes(m.devices, plan.cells, m.to_fraction(plan.cells, plan.delta))
    wv = hw.write_verify
    outcome = program_verify_delta(m.devices, plan.cells, m.to_fraction(plan.cells, plan.delta), wv.tolerance,
                                   wv.max_iterations, wv.max_pulses_per_iteration, wv.reads_per_verify, 0.0)
    # One pulse lands with σ = 3.7 % of the range, above the ±2.5 % band, so each correction is a
    # new draw: most devices converge within 20 iterations, a few per cent do not (reported).
    assert outcome.device_pulses.sum() > 0 and outcome.converged.mean() > 0.9
    devices, delta_x = device_changes_before
    target = np.clip(x_before.flat[devices] + delta_x, 0.0, 1.0)
    assert np.array_equal(outcome.devices, devices)
    error = np.abs(m.devices.x.flat[devices] - target)
    assert np.all(error[outcome.converged] <= tol + 1e-12)


# ----- relaxation in training time, lifetime from steady-state rates -----------------------------
def test_step_period_lets_relaxation_act_so_adaptive_eapu_differs():
    methods = ("eapu", "eapu_adaptive")
    back_to_back = {r.method: r for r in api.run(workload(steps=6, methods=methods), hardware()).runs}
    assert np.array_equal(back_to_back["eapu"].loss, back_to_back["eapu_adaptive"].loss)
    slow = {r.method: r for r in api.run(workload(steps=6, methods=methods, step_period="20 s"), hardware()).runs}
    assert slow["eapu"].end_ps >= 6 * 20e12
    assert not np.array_equal(slow["eapu"].pulses, slow["eapu_adaptive"].pulses)


def test_lifetime_uses_steady_state_rates_and_reports_the_mean_rate_ratio(small_run):
    methods = small_run.summary["methods"]
    bp, eapu = methods["bp_open_loop"]["lifetime"], methods["eapu"]["lifetime"]
    assert bp["rate_window_steps"] == 12 - 12 // 2
    assert bp["mean_write_rate_ratio_vs_bp_open_loop"] == pytest.approx(1.0)
    assert eapu["mean_write_rate_ratio_vs_bp_open_loop"] == pytest.approx(
        bp["mean_write_rate_per_device"] / eapu["mean_write_rate_per_device"])


def test_endurance_in_pulses_wears_multi_pulse_writes_sooner():
    cycles, pulses = (_array(shape=(1, 40), endurance_median=20.0, endurance_sigma=0.0, endurance_unit=unit)
                      for unit in ("cycles", "pulses"))
    cells = np.arange(40)
    for _ in range(5):                  # five 5-pulse trains alternating up and down: 25 pulses, 5 cycles
        for arr in (cycles, pulses):
            arr.apply_pulses(cells, np.full(40, 5 * (1 if _ % 2 == 0 else -1)), 0.0)
    assert not cycles.stuck.any() and pulses.stuck[0].all()
    assert np.allclose(pulses.wear_fraction()[0], 1.25) and np.allclose(cycles.wear_fraction()[0], 0.25)


def test_lifetime_reports_write_and_pulse_rates_with_their_ratios(small_run):
    methods = small_run.summary["methods"]
    bp, eapu = methods["bp_open_loop"]["lifetime"], methods["eapu"]["lifetime"]
    assert bp["endurance_unit"] == "cycles" and bp["mean_pulse_rate_per_device"] >= bp["mean_write_rate_per_device"] > 0
    assert eapu["mean_pulse_rate_ratio_vs_bp_open_loop"] == pytest.approx(
        bp["mean_pulse_rate_per_device"] / eapu["mean_pulse_rate_per_device"])


# ----- ADC range per layer --------------------------------------------------------------------------
def test_adc_calibration_never_clips_its_calibration_batch():
    hw = hardware(device={"read_noise": 0.0})
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.1, (200, 30))
    m = AnalogMatrix("w", w, hw, mapping_scale(w), rng)
    x = rng.random((16, 200))
    m.matmul(x)
    stats = m.adc_stats["forward"]
    assert stats["calibrations"] == 1 and stats["conversions"] > 0
    assert stats["clipped"] == 0                       # headroom 1.25 above the batch's peak
    fixed = AnalogMatrix("w", w, hardware(device={"read_noise": 0.0}, adc={"calibration": "fixed"}),
                         mapping_scale(w), np.random.default_rng(0))
    fixed.matmul(x)
    assert fixed.adc_stats["forward"]["calibrations"] == 0


def test_adc_calibration_pass_is_priced_in_the_phase_of_its_product():
    from cosim.hardware.accounting import op_phase
    run = api.run(workload(steps=5, methods=("bp_open_loop",)), hardware(adc={"recalibrate_every": 2})).runs[0]
    tx, acts = run.ledger.transactions(), run.ledger.actions()
    acts = acts.assign(op=tx.op.to_numpy()[acts.tx.to_numpy()])
    adc = acts[acts.action == "adc_conversion"]
    for direction in ("forward", "backward"):
        # step 2 recalibrates every matrix: its calibration pass converts what its product does
        at = adc[adc.step == 2]
        assert at[at.op == f"{direction}_adc_calibration"]["count"].sum() == at[at.op == direction]["count"].sum() > 0
        assert adc[adc.step == 1].op.str.contains("calibration").sum() == 0
    assert op_phase("forward_adc_calibration") == "forward" and op_phase("backward_adc_calibration") == "backprop"
    fixed = api.run(workload(steps=3, methods=("bp_open_loop",)), hardware(adc={"calibration": "fixed"})).runs[0]
    assert not fixed.ledger.transactions().op.str.contains("calibration").any()


def test_summary_reports_per_layer_mapping_sigma_step_tolerance_and_adc(small_run):
    layers = small_run.summary["methods"]["eapu"]["layers"]
    first = layers["linear1"]
    g_range = hardware().device.g_range
    assert first["sigma_write"]["S"] == pytest.approx(0.037 * g_range)
    assert first["sigma_write"]["w"] == pytest.approx(0.037 * first["mapping_scale_w"])
    assert first["eapu_step"]["pulses"] == 5
    assert first["verify_tolerance"]["w"] == pytest.approx(0.025 * first["mapping_scale_w"])
    assert 0 <= first["adc"]["forward"]["clipped_fraction"] < 0.01


@pytest.mark.slow
def test_fine_noiseless_pulses_bring_bp_to_ideal_sgd_and_coarse_ones_away_from_it():
    from tests.conftest import NOISELESS_DEVICE
    def loss_gap(levels):
        hw = hardware(device={**NOISELESS_DEVICE, "levels": levels}, dac={"bits": None, "input_bits": None},
                      adc={"bits": None}, write_verify={"tolerance": 0.0, "max_pulses_per_iteration": 10000})
        runs = {r.method: r for r in api.run(workload(steps=10, methods=("ideal", "bp_open_loop")), hw).runs}
        return float(np.abs(runs["bp_open_loop"].loss - runs["ideal"].loss).max())
    fine, coarse = loss_gap(2 ** 16), loss_gap(128)
    assert fine < 1e-3 < coarse


def test_how_often_a_run_measures_never_changes_its_training():
    # Relaxation acts (2 s per step) and the ADC ranges recalibrate: an evaluation sees the
    # devices relaxed from its own generator and ranges the ADC for itself only.
    runs = [api.run(workload(steps=8, methods=("eapu", "write_verify"), eval_every=every, step_period="2 s"),
                    hardware(adc={"recalibrate_every": 3})).runs for every in (1, 8)]
    for often, rarely in zip(*runs):
        assert np.array_equal(often.loss, rarely.loss) and np.array_equal(often.pulses, rarely.pulses)
        assert often.scores[-1] == rarely.scores[-1]
