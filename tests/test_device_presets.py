"""Conformance suite: every chip preset's device obeys the same contract."""
from pathlib import Path

import numpy as np
import pytest

from cosim.devices.array import DeviceArray
from cosim.devices.programming import program_open_loop
from cosim.specs.base import SpecError
from cosim.specs.hardware import load_hardware

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ["rram_180nm", "rram_22nm", "pcm", "fefet", "mram", "ecram"]


def _spec(name, **changes):
    device = load_hardware(ROOT / "hardware_specs" / f"{name}.yaml").device
    return device.model_copy(update=changes)


def _array(name, seed=0, shape=(64, 64), **changes):
    return DeviceArray(_spec(name, **changes), shape, np.random.default_rng(seed))


@pytest.mark.parametrize("name", PRESETS)
def test_every_default_number_has_a_source(name):
    device = load_hardware(ROOT / "hardware_specs" / f"{name}.yaml").device
    assert set(device.model_fields_set) - {"sources", "family"} <= set(device.sources)


@pytest.mark.parametrize("name", PRESETS)
def test_bounds_respected_under_many_pulses(name):
    arr = _array(name)
    cells = np.arange(arr.x[0].size)
    for sign in (1, -1, 1, -1):
        program_open_loop(arr, cells, np.full(cells.size, sign * 0.7), now=0.0)
    g = arr.conductance()
    assert g.min() >= arr.spec.g_min * (1 - 1e-12) and g.max() <= arr.spec.g_max * (1 + 1e-12)


@pytest.mark.parametrize("name", PRESETS)
def test_pulse_response_monotone_in_expectation(name):
    arr = _array(name)
    x = np.linspace(0, 1, 201)
    ones = np.ones_like(x)
    up = arr.response.after_pulses(x, ones, ones)
    down = arr.response.after_pulses(x, -ones, ones)
    assert (up >= x - 1e-12).all() and (down <= x + 1e-12).all()
    assert (np.diff(up) >= 0).all() and (np.diff(down) >= 0).all()
    assert (up > x).any() and (down < x).any()


@pytest.mark.parametrize("name", PRESETS)
def test_write_noise_statistics_match_spec(name):
    """One programming event from mid-range, no device spread or faults: the spread of the
    landing (or the failed-switch rate on binary cells) matches the spec within sampling error."""
    arr = _array(name, seed=3, shape=(200, 200), stuck_fraction=0.0, step_spread=0.0)
    spec, n_cells = arr.spec, 200 * 200
    start = 0.5 if spec.model != "binary_sliced" else 127 / 255
    arr.x[0] = start
    up = np.ones(n_cells)
    flat = np.arange(n_cells)
    expected = arr.response.after_pulses(np.full(n_cells, start), up, up)
    arr.apply_pulses(flat, up, now=0.0)
    landed = arr.x[0].ravel()
    if spec.model == "binary_sliced":   # 127 -> 128 flips all 8 bits; each fails with switching_error
        failed = (landed != expected).mean()
        p = 1 - (1 - spec.switching_error) ** 8
        assert abs(failed - p) <= 5 * np.sqrt(p * (1 - p) / n_cells) + 1e-12
    else:
        error = landed - expected
        assert error.std() == pytest.approx(spec.write_noise, rel=0.05)
        assert abs(error.mean()) < 5 * spec.write_noise / np.sqrt(n_cells)


@pytest.mark.parametrize("name", PRESETS)
def test_wear_counted_and_worn_devices_stick(name):
    arr = _array(name, endurance_median=2.5, endurance_sigma=0.0, stuck_fraction=0.0)
    cells = np.arange(arr.x[0].size)
    for i in range(4):
        program_open_loop(arr, cells, np.full(cells.size, 0.3 if i % 2 == 0 else -0.3), now=float(i))
    assert arr.write_count.sum() >= 4 * cells.size
    assert arr.stuck[arr.write_count >= 3].all()
    assert arr.pulse_count.sum() >= arr.write_count.sum()


@pytest.mark.parametrize("name", PRESETS)
def test_same_seed_same_state(name):
    a, b = _array(name, seed=9), _array(name, seed=9)
    cells = np.arange(a.x[0].size)
    for arr in (a, b):
        program_open_loop(arr, cells, np.full(cells.size, 0.1), now=0.0)
        program_open_loop(arr, cells, np.full(cells.size, -0.05), now=30.0)
        arr.advance_to(86400.0)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.stuck, b.stuck)


@pytest.mark.slow
@pytest.mark.parametrize("name", PRESETS)
def test_preset_trains_through_the_cli(name, tmp_path):
    from cosim.cli import main
    code = main(["run", "workloads/digits_mlp.yaml", "--hardware", f"hardware_specs/{name}.yaml",
                 "--steps", "10", "--quiet", "--out", str(tmp_path)])
    assert code == 0 and (tmp_path / "summary.json").exists()


# ----- time-dependent behaviour ------------------------------------------------------------------
def test_pcm_drift_follows_power_law():
    arr = _array("pcm", stuck_fraction=0.0, relaxation_sigma=0.0)
    arr.x[:] = 0.5
    arr.last_write_time[:] = 0.0     # programmed at t = 0
    g0 = arr.conductance().copy()
    nu, t0 = arr.spec.drift_nu, arr.spec.drift_t0
    arr.advance_to(10 * t0)
    arr.advance_to(1000 * t0)      # in two steps: increments compose
    assert np.allclose(arr.conductance(), g0 * 1000.0 ** -nu)


def test_rram_relaxation_spread_doubles_in_a_day():
    arr = _array("rram_180nm", seed=4, shape=(200, 200), stuck_fraction=0.0)
    arr.x[:] = 0.5
    arr.last_write_time[:] = 0.0     # programmed at t = 0
    arr.advance_to(86400.0)
    sigma_relax = arr.x.std()
    sigma_write = arr.spec.write_noise
    # Combined with one write's spread σ_w, the total is about 2·σ_w (the reference's "doubles").
    assert np.sqrt(sigma_write ** 2 + sigma_relax ** 2) == pytest.approx(2 * sigma_write, rel=0.05)
    assert arr.write_sigma(86400.0).mean() == pytest.approx(2 * sigma_write, rel=0.01)
    assert arr.write_sigma(0.5).mean() == pytest.approx(sigma_write)   # before t0 nothing has relaxed


def test_a_device_never_written_does_not_relax():
    # The idle g_min device of a pair, or a layer that starts at zero: no programming pulse, no
    # relaxation clock; the same devices relax once written.
    arr = _array("rram_180nm", seed=4, shape=(50, 50), stuck_fraction=0.0)
    arr.advance_to(86400.0)
    assert np.all(arr.x == 0.0) and np.all(arr.write_sigma(86400.0) == arr.spec.write_noise)
    cells = np.arange(arr.x[0].size)
    arr.apply_pulses(cells, np.full(cells.size, 10), 86400.0)
    written = arr.x[0].copy()
    arr.advance_to(2 * 86400.0)
    assert np.all(arr.x[1] == 0.0)                     # the idle device of each pair stays put
    assert 0.5 * arr.spec.relaxation_sigma < np.std(arr.x[0] - written) < 2 * arr.spec.relaxation_sigma * np.sqrt(np.log(86400.0))


@pytest.mark.parametrize("name", ["rram_180nm", "pcm"])
def test_relaxation_skips_only_when_no_device_is_past_t0(name, monkeypatch):
    # The early return of a read before any written device is t0 past its write gives the
    # same state and the same generator as the whole-array pass, on both sides of t0.
    t0 = _array(name).spec.drift_t0
    for now in (0.25 * t0, t0 - 1e-6 * t0, t0, t0 + 1e-6 * t0, 3.0 * t0):
        results = []
        for full_pass in (False, True):
            arr = _array(name, seed=3, shape=(16, 16), stuck_fraction=0.0)
            arr.x[:] = 0.5
            arr.last_write_time[0, :8] = 0.0          # half of the + devices written at t = 0
            arr.clock = 0.0
            if full_pass:
                monkeypatch.setattr(DeviceArray, "_any_past_t0", lambda self, now: True)
            arr.advance_to(now)
            monkeypatch.undo()
            results.append((arr.x.copy(), arr.rng.random()))
        (skipped, draw_a), (full, draw_b) = results
        assert np.array_equal(skipped, full) and draw_a == draw_b
        assert np.any(skipped != 0.5) == (now > t0)   # devices move only past t0


def test_an_array_without_devices_advances_in_time():
    arr = _array("rram_180nm", shape=(0, 5))
    arr.advance_to(10.0)
    assert arr.clock == 10.0 and arr.x.size == 0


def test_drift_is_lazy_until_touched():
    arr = _array("pcm", stuck_fraction=0.0)
    arr.x[:] = 0.5
    before = arr.x.copy()
    arr.advance_to(0.5 * arr.spec.drift_t0)
    assert np.array_equal(arr.x, before)


def test_pcm_lowers_a_weight_by_potentiating_the_other_device():
    arr = _array("pcm", stuck_fraction=0.0, write_noise=0.0, step_spread=0.0)
    arr.set_exact(np.full(arr.shape, 0.3))
    x_plus = arr.x[0].copy()
    cells = np.arange(arr.x[0].size)
    outcome = program_open_loop(arr, cells, np.full(cells.size, -0.1), now=0.0)
    assert np.array_equal(arr.x[0], x_plus)           # + device untouched (no depression pulses)
    assert (arr.x[1] > 0).all() and outcome.potentiating.all()


def test_pcm_refreshes_a_saturating_pair_with_a_reset():
    arr = _array("pcm", stuck_fraction=0.0, write_noise=0.0, step_spread=0.0, nonlinearity_up=0.0)
    arr.x[0], arr.x[1] = 0.85, 0.6
    cells = np.arange(arr.x[0].size)
    program_open_loop(arr, cells, np.full(cells.size, 0.1), now=0.0)
    # Pair refreshed: both RESET, the net weight 0.35 re-programmed on the + device alone.
    assert (arr.x[1] == 0).all()
    assert np.allclose(arr.x[0], 0.35, atol=1.5 / arr.response.levels)


def test_mram_counts_one_pulse_per_flipped_bit():
    arr = _array("mram", stuck_fraction=0.0, switching_error=0.0)
    arr.x[0] = 127 / 255
    outcome = arr.apply_pulses(np.array([0]), np.array([1.0]), now=0.0)
    assert outcome.pulses[0] == 8 and arr.x.flat[0] == pytest.approx(128 / 255)


def test_spare_columns_replace_the_worst_columns():
    spec = _spec("rram_180nm", stuck_fraction=0.05)
    plain = DeviceArray(spec, (64, 64), np.random.default_rng(1))
    spared = DeviceArray(spec, (64, 64), np.random.default_rng(1))
    remapped = spared.remap_stuck_columns(8, 64)
    assert remapped == 8
    assert spared.stuck_at_start < plain.stuck_at_start


# ----- spec files ---------------------------------------------------------------------------------
def test_extends_requires_a_source_for_an_override(tmp_path):
    (tmp_path / "base.yaml").write_text((ROOT / "hardware_specs" / "rram_180nm.yaml").read_text())
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\ndevice:\n  g_max: 50 uS\n")
    with pytest.raises(SpecError, match="device.g_max: overrides base.yaml without a note"):
        load_hardware(tmp_path / "child.yaml")


def test_unknown_device_model_is_a_spec_error(tmp_path):
    (tmp_path / "base.yaml").write_text((ROOT / "hardware_specs" / "rram_180nm.yaml").read_text())
    (tmp_path / "child.yaml").write_text(
        "extends: base.yaml\nname: child\ndevice:\n  model: memristive_magic\n  sources: {model: x}\n")
    with pytest.raises(SpecError, match="device: model 'memristive_magic' unknown"):
        load_hardware(tmp_path / "child.yaml")
