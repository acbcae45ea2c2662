"""The fast analog MVM kernel: compiled (numba) and numpy paths agree, noiseless bit-serial
products are exact, and parallel method runs equal serial ones. No timings here: speed is
measured by benchmarks/step_time.py."""
from __future__ import annotations

import numpy as np
import pytest

from cosim.nn import adc_kernel, noise
from cosim.nn.jit import numba
from cosim.nn.analog import AnalogMatrix
from tests.conftest import NOISELESS_DEVICE, hardware

needs_numba = pytest.mark.skipif(numba is None, reason="numba not importable")


def _products(monkeypatch, use_numba: bool, hw, shape=(300, 140), vectors=37):
    monkeypatch.setattr(adc_kernel, "USE_NUMBA", use_numba)
    rng = np.random.default_rng(5)
    m = AnalogMatrix("w", rng.uniform(-0.9, 0.9, shape), hw, 1.0, np.random.default_rng(1))
    x = np.maximum(rng.normal(size=(vectors, shape[0])), 0.0)
    dy = rng.normal(size=(vectors, shape[1]))
    return m.matmul(x), m.matmul_t(dy), [op.conductance_load for op in m.ops], m.clipped_conversions


@needs_numba
@pytest.mark.parametrize("spec", [{}, {"dac": {"bits": 2, "input_bits": 6}},
                                  {"adc": {"bits": 4}}, {"adc": {"bits": None}}])
def test_numba_and_numpy_kernels_agree(monkeypatch, spec):
    fast = _products(monkeypatch, True, hardware(**spec))
    slow = _products(monkeypatch, False, hardware(**spec))
    for a, b in zip(fast[:2], slow[:2]):
        assert np.allclose(a, b, rtol=1e-6, atol=1e-6)
    for a, b in zip(fast[2], slow[2]):
        assert np.allclose(a, b, rtol=1e-12)
    assert fast[3] == slow[3]


def test_noiseless_bit_serial_product_equals_quantised_input_product():
    """Read noise off and an ideal ADC: the bit-serial MVM is x quantised to input_bits times W,
    to float32 precision."""
    hw = hardware(device=NOISELESS_DEVICE, adc={"bits": None})
    rng = np.random.default_rng(2)
    w = rng.uniform(-0.9, 0.9, (300, 140))
    m = AnalogMatrix("w", w, hw, 1.0, rng)
    m.devices.set_exact(w)
    x = rng.normal(size=(9, 300))
    full = 2.0 ** hw.dac.input_bits - 1
    scale = np.abs(x).max()
    xq = np.rint(np.abs(x) / scale * full) * np.sign(x) * scale / full
    assert np.allclose(m.matmul(x), xq @ w, rtol=1e-5, atol=1e-5)


def test_digit_planes_keep_only_vectors_with_a_nonzero_digit():
    codes = np.array([[0, 0], [1, 2], [0, 2], [3, 0]], dtype=np.uint8)
    for use_numba in {False, numba is not None}:
        plane, drive = np.empty((8, 2), np.float32), np.zeros(2)
        vec, slc = np.empty(8, np.intp), np.empty(8, np.intp)
        n = adc_kernel.digit_planes(codes, 1, 2, plane, drive, vec, slc, use_numba=use_numba)
        assert n == 5 and vec[:n].tolist() == [1, 3, 1, 2, 3] and slc[:n].tolist() == [0, 0, 1, 1, 1]
        assert plane[:n].tolist() == [[1, 0], [1, 0], [0, 1], [0, 1], [1, 0]] and drive.tolist() == [3, 2]


def test_counter_normals_are_standard_normal_and_independent_of_order():
    from scipy import stats
    counters = np.arange(400_000, dtype=np.uint64)
    z = noise.normals(7, counters)
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1) < 0.01
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert (np.abs(z) > 3).mean() == pytest.approx(2 * stats.norm.sf(3), rel=0.15)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.01
    shuffled = np.random.default_rng(0).permutation(counters)
    assert np.array_equal(noise.normals(7, shuffled), z[shuffled])   # a pure function of (key, counter)
    assert not np.allclose(noise.normals(8, counters[:100]), z[:100])


@needs_numba
def test_compiled_normals_equal_the_numpy_ones():
    out = np.empty(50_000)
    noise.fill_normals_jit(np.uint64(3), np.uint64(1000), out, np.empty(out.size, np.bool_))
    assert np.array_equal(out, noise.normals(3, np.arange(1000, 51_000, dtype=np.uint64)))


@needs_numba
@pytest.mark.parametrize("levels, nu_up, nu_down", [(128, 0.04, 0.63), (32, 0.0, 0.0), (None, 2.0, 0.0)])
def test_compiled_pulse_response_equals_the_numpy_one_to_rounding(levels, nu_up, nu_down):
    """after_pulses compiled (one pass) and in numpy (masked arrays): the same float64 values to
    2 ULP of 1.0, bounds, zero-pulse and saturating trains included, for float64 and float32 step
    scales. Not bit for bit: on AVX-512 CPUs numpy's SIMD log1p/expm1 differ from libm's (which
    numba calls) in the last bit (seen on an AMD EPYC with numpy 2.4: 143 of 2005 values)."""
    from cosim.devices.response import PulseResponse
    rng = np.random.default_rng(3)
    response = PulseResponse(levels, nu_up, nu_down)
    x = np.concatenate([rng.random(2000), [0.0, 1.0, -0.1, 1.2, 0.5]])
    n = np.concatenate([rng.integers(-20, 21, 2000).astype(float), [0.0, 3.0, -3.0, 500.0, -500.0]])
    for scale in (np.ones(x.size), (rng.random(x.size) + 0.5).astype(np.float32)):
        fast, slow = response.after_pulses(x, n, scale), response._after_pulses_np(x, n, scale)
        assert fast.dtype == slow.dtype
        np.testing.assert_allclose(fast, slow, rtol=0, atol=2 * np.finfo(np.float64).eps)
        assert np.all((fast >= 0) & (fast <= 1)) and np.array_equal(fast[-5:], slow[-5:])


@pytest.mark.parametrize("levels, nu_up, nu_down", [(128, 0.04, 0.63), (32, 0.0, 0.0), (None, 2.0, 0.0),
                                                    (64, 10.0, 10.0)])
def test_pair_change_in_closed_form_is_the_change_the_pulse_response_makes(levels, nu_up, nu_down):
    """PulseResponse.pair_change (compiled when numba is there, and its numpy form) against the
    pulse response itself, after_pulses on each pair's active device: the same changes to 4 ULP
    of 1.0 on either device of a pair, equal pairs, saturation, zero-pulse and long trains."""
    from cosim.devices.response import PulseResponse, _pair_change_np
    rng = np.random.default_rng(4)
    response = PulseResponse(levels, nu_up, nu_down)
    x_plus = rng.random(3000) * (rng.random(3000) < 0.7)
    x_minus = rng.random(3000) * (rng.random(3000) < 0.5)
    x_plus[:20] = x_minus[:20] = 0.0                      # pairs at g_min (x+ == x-)
    x_plus[20:30], x_minus[30:40] = 1.0, 1.0              # saturated devices
    n = rng.integers(-6, 7, 3000).astype(float)
    n[40:50], n[50:60], n[60:70] = 500.0, -500.0, 0.0
    on_minus = (x_minus > x_plus) | ((x_minus == x_plus) & (n < 0))
    active = np.where(on_minus, x_minus, x_plus)
    moved = response._after_pulses_np(active, np.where(on_minus, -n, n), np.ones(active.size))
    expected = np.where(on_minus, active - moved, moved - active)
    for change in (response.pair_change(x_plus, x_minus, n),
                   _pair_change_np(x_plus, x_minus, n, nu_up, nu_down, response.levels)):
        np.testing.assert_allclose(change, expected, rtol=0, atol=4 * np.finfo(np.float64).eps)
        assert np.array_equal(change[20:40] == 0, expected[20:40] == 0)   # nothing past a bound


def test_expected_weight_change_of_a_pulse_device_is_its_closed_form(monkeypatch):
    """DeviceArray.expected_weight_change takes PulseResponse.pair_change; without it (a
    response of another family) the generic route through after_pulses gives the same values."""
    from cosim.devices.array import DeviceArray
    from tests.conftest import hardware as make_hw
    rng = np.random.default_rng(4)
    devices = DeviceArray(make_hw().device, (40, 30), np.random.default_rng(0))
    devices.x[:] = rng.random(devices.x.shape) * (rng.random(devices.x.shape) < 0.7)
    devices.x[:, :3] = 0.0                       # pairs at g_min (x+ == x-)
    devices.x[0, 3:5] = 1.0                      # saturated
    cells = np.arange(1200)
    n = rng.integers(-6, 7, cells.size).astype(float)
    closed = devices.expected_weight_change(cells, n)
    assert np.array_equal(closed, devices.response.pair_change(devices.x[0].ravel(), devices.x[1].ravel(), n))
    monkeypatch.setattr(type(devices.response), "pair_change", None)
    np.testing.assert_allclose(closed, devices.expected_weight_change(cells, n), rtol=0,
                               atol=4 * np.finfo(np.float64).eps)


@needs_numba
@pytest.mark.parametrize("shift, sigma", [(-0.00228, 0.019), (0.0, 0.3), (0.05, 0.0)])
def test_compiled_relaxation_equals_the_numpy_one_bit_for_bit(monkeypatch, shift, sigma):
    """DeviceArray relaxation with its compiled pass and in numpy: the same
    states to the bit, with never-written and stuck devices, devices younger than t0 and
    clipping at both bounds (large spread and shift push devices past g_min and g_max)."""
    from cosim.devices import array
    from tests.test_device_presets import _array

    def relaxed(compiled: bool) -> np.ndarray:
        if not compiled:
            monkeypatch.setattr(array, "_apply_relaxation_nb", None)
        devices = _array("rram_180nm", seed=2, relaxation_shift=shift, relaxation_sigma=sigma, stuck_fraction=0.05)
        rng = np.random.default_rng(6)
        devices.x[:] = rng.random(devices.x.shape) * (rng.random(devices.x.shape) < 0.8)
        devices.x[0, :2], devices.x[1, 2:4] = 1.0, 0.0            # at the bounds
        written = rng.random(devices.x.shape) < 0.7
        devices.last_write_time[written] = rng.uniform(0.0, 50.0, int(written.sum()))
        devices.clock = 20.0                   # devices written after 19 s are younger than t0
        for now in (25.0, 400.0, 9e4):
            devices.advance_to(now)
        monkeypatch.undo()
        return devices.x

    fast, slow = relaxed(True), relaxed(False)
    assert np.array_equal(fast, slow)
    assert np.any(fast == 0.0) and np.any(fast == 1.0) and np.mean(fast != 0) > 0.3


@needs_numba
@pytest.mark.parametrize("cells_per_weight", [1, 3])
def test_compiled_tile_write_totals_equal_the_numpy_ones_bit_for_bit(monkeypatch, cells_per_weight):
    """Per-tile pulses, energy, row pulse slots and inhibited lines of an open-loop write, in one
    compiled pass and composed from map_rows and the per-row sums: the same floats, on a 3x2 (3x4) tile
    grid with both devices of some pairs, several devices per row and both polarities."""
    from cosim.devices.tile_map import TileMap
    from cosim.hardware import open_loop_controller as olc

    tiles = TileMap("w", 70, 50, 32, 48, cells_per_weight)
    rng = np.random.default_rng(4)
    devices = rng.choice(2 * tiles.weights, 900, replace=False)
    pulses = rng.integers(1, 9, devices.size).astype(float)
    up = rng.random(devices.size) < 0.6
    energy = rng.random(devices.size) * 1e-12
    fast = olc.tile_write_totals(tiles, devices, pulses, up, energy, 48)
    monkeypatch.setattr(olc, "_tile_write_totals_nb", None)
    slow = olc.tile_write_totals(tiles, devices, pulses, up, energy, 48)
    assert tiles.grid == (3, 2 if cells_per_weight == 1 else 4)
    for a, b in zip(fast, slow):
        assert a.shape == (tiles.tiles,) and np.array_equal(a, b)
    assert np.all(fast[3] > 0) and fast[0].sum() == pulses.sum()


@needs_numba
@pytest.mark.parametrize("per_cell_step, compensating", [(False, True), (True, True), (False, False)])
def test_compiled_eapu_selection_equals_the_numpy_one(monkeypatch, per_cell_step, compensating):
    """EaPU's selection (probability min(1, |ΔW| / realised step), drawn against uniforms)
    compiled and in numpy: the same cells and signed steps, with saturated devices (no expected
    change), changes beyond one step (probability 1), zero and NaN weight changes."""
    from cosim.rules import eapu
    rng = np.random.default_rng(9)
    flat = rng.normal(0.0, 0.02, 5000)
    flat[:40], flat[40:45] = 0.0, np.nan
    change = rng.normal(0.0, 0.03, 5000) * (rng.random(5000) < 0.9) if compensating else None
    step = rng.uniform(0.01, 0.04, 5000) if per_cell_step else 0.025
    uniform = rng.random(5000)
    fast = eapu.select(flat, change, step, uniform)
    monkeypatch.setattr(eapu, "_select_nb", None)
    slow = eapu.select(flat, change, step, uniform)
    assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])
    assert 200 < fast[0].size < 4900 and not np.isin(np.arange(45), fast[0]).any()


@needs_numba
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("precision", [np.float32, np.float64])
def test_compiled_block_operands_equal_the_numpy_ones(monkeypatch, transpose, precision):
    """A tile-row block's [W | σ²] and G⁺ + G⁻ compiled and in numpy: the same values and
    layouts, for a block inside a larger state (rows 40-69 of 100, or of its 70 columns)."""
    from cosim.nn import block_operands as operands
    rng = np.random.default_rng(3)
    x_dev = rng.random((2, 100, 70)) * (rng.random((2, 100, 70)) < 0.6)
    fast = operands.block_operands(x_dev, 0.0256, 1e-4, transpose, slice(40, 70), precision)
    monkeypatch.setattr(operands, "_block_operands_nb", None)
    slow = operands.block_operands(x_dev, 0.0256, 1e-4, transpose, slice(40, 70), precision)
    plane = x_dev.transpose(0, 2, 1) if transpose else x_dev
    assert fast.w_var.shape == (30, 2 * plane.shape[2]) and fast.w_var.dtype == precision
    assert np.array_equal(fast.w, (plane[0, 40:70] - plane[1, 40:70]).astype(precision))
    for a, b in ((fast.w_var, slow.w_var), (fast.g_pair, slow.g_pair)):
        assert np.array_equal(a, b) and a.flags.f_contiguous == b.flags.f_contiguous
    assert fast.g_pair.flags.f_contiguous == transpose


WRITES = {"open_loop": lambda programming, devices, cells, delta, now:
          programming.program_open_loop(devices, cells, delta, now),
          "verify": lambda programming, devices, cells, delta, now:
          programming.program_verify_delta(devices, cells, delta, 0.02, 6, 5, 3, now)}


@needs_numba
@pytest.mark.parametrize("procedure", sorted(WRITES))
@pytest.mark.parametrize("changes", [
    {}, {"rounding": "at_least_one", "endurance_unit": "pulses"}, {"levels": None},
    {"nonlinearity_up": 0.0, "nonlinearity_down": 0.0, "write_noise": 0.3, "read_noise": 0.0}])
def test_compiled_writes_equal_the_numpy_ones_bit_for_bit(monkeypatch, procedure, changes):
    """program_open_loop and program_verify_delta compiled and in numpy over a sequence of
    writes: the same outcomes (pulses, polarities; verify reads and convergence), states, wear
    counts, write times, stuck devices and generator state, with weights crossing zero, stuck
    devices, devices wearing out, relaxation between writes and clipping at both bounds (large
    changes and noise)."""
    from cosim.devices import programming
    from tests.test_device_presets import _array

    def written(compiled: bool):
        if not compiled:
            monkeypatch.setattr(programming, "_land_and_count_nb", None)
        devices = _array("rram_180nm", seed=3, shape=(24, 20), stuck_fraction=0.05, endurance_median=12.0,
                         **changes)
        rng = np.random.default_rng(8)
        outcomes = []
        for k in range(30):
            cells = np.flatnonzero(rng.random(devices.x[0].size) < 0.5)
            outcomes.append(WRITES[procedure](programming, devices, cells, rng.normal(0.0, 0.3, cells.size), 1.5 * k))
        monkeypatch.undo()
        return devices, outcomes

    fast, fast_out = written(True)
    slow, slow_out = written(False)
    for name in ("x", "write_count", "pulse_count", "stuck", "step_scale"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert np.array_equal(fast.last_write_time, slow.last_write_time, equal_nan=True)
    assert fast.rng.random() == slow.rng.random()
    for a, b in zip(fast_out, slow_out):
        assert vars(a).keys() == vars(b).keys()
        assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in vars(a)), vars(a).keys()
    assert fast.stuck.sum() > fast.stuck_at_start        # some wore out
    assert np.any(fast.x[1] > 0) and np.any(fast.x == 1.0) and np.any(fast.x == 0.0)


@pytest.mark.slow   # ~7 s, most of it spawning; test_checkpoint's CLI run also compares parallel to serial
def test_methods_in_parallel_processes_equal_serial():
    import json

    import cosim.api as api
    from tests.conftest import workload
    wl = workload(steps=6, methods=("eapu", "write_verify", "ideal"))
    serial = api.run(wl, hardware(), jobs=1)
    parallel = api.run(wl, hardware(), jobs=2, blas_threads=1)
    assert json.dumps(parallel.summary, sort_keys=True) == json.dumps(serial.summary, sort_keys=True)
    assert parallel.ledger.equals(serial.ledger) and parallel.curves.equals(serial.curves)
    assert [r.method for r in parallel.runs] == ["eapu", "write_verify", "ideal"]


def test_jobs_and_blas_threads_must_be_positive(capsys):
    from cosim.cli import main
    assert main(["run", "--jobs", "0", "--quiet"]) == 2
    assert "--jobs: must be >= 1" in capsys.readouterr().err


def test_bare_fp32_baseline_reports_every_step_and_trains_the_same():
    """benchmarks.step_time times the bare FP32 loop between per-step callbacks, as it times the
    trainer; the callback must fire once per step and not change the training."""
    from benchmarks.overhead import bare_numpy_mlp
    from cosim.nn.tasks import load_task
    from cosim.specs.workload import DataSpec

    data = load_task(DataSpec(dataset="digits"), (64,))
    calls = []
    with_callback = bare_numpy_mlp([64, 16, 10], data, 25, 16, 0.5, 10, 3, lambda: calls.append(1))
    assert len(calls) == 25
    assert with_callback == bare_numpy_mlp([64, 16, 10], data, 25, 16, 0.5, 10, 3)


def test_unpriced_benchmark_run_trains_the_same_and_prices_no_product():
    """benchmarks.overhead's unpriced run (UnpricedChip) times the same training: over a run far
    shorter than the devices' relaxation onset the losses equal the priced run's, while its ledger
    books none of the products or digital work, only the write plans' transactions."""
    from benchmarks.common import default_specs
    from benchmarks.overhead import unpriced_trainer
    from cosim.api import with_overrides
    from cosim.nn.tasks import load_task
    from cosim.sim.training import Trainer

    wl, hw = default_specs(6)
    wl = with_overrides(wl, methods=["eapu"])
    task = load_task(wl.data, wl.network.build().input_shape)
    priced, unpriced = Trainer("eapu", wl, hw, task), unpriced_trainer("eapu", wl, hw, task)
    priced_run, unpriced_run = priced.train(), unpriced.train()
    assert np.array_equal(priced_run.loss, unpriced_run.loss)
    ops = lambda trainer: set(trainer.state.ledger.transactions().query("step >= 0").op)   # noqa: E731
    assert {"forward", "backward", "update_rule", "eapu_write", "write_plan"} <= ops(priced)
    assert ops(unpriced) == {"eapu_write", "write_plan"}


def test_instruction_benchmark_reads_callgrind_totals_and_refuses_without_valgrind(monkeypatch, capsys):
    """benchmarks.instructions: the count is callgrind's `totals:` line; without valgrind it says
    what to install and exits 2."""
    from benchmarks import instructions

    header = "version: 1\ncreator: callgrind-3.22.0\nevents: Ir\nsummary: 0\ntotals: 60880885\n"
    assert instructions.total_instructions(header) == 60880885
    with pytest.raises(ValueError, match="totals"):
        instructions.total_instructions("events: Ir\n")
    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    assert instructions.main([]) == 2
    assert "apt-get install valgrind" in capsys.readouterr().err


def test_step_time_window_must_leave_steps_to_time(capsys):
    """benchmarks.step_time --from-step: a window that leaves no step to time is refused (exit 2,
    naming the option and the bound) before anything runs."""
    from benchmarks import step_time

    with pytest.raises(SystemExit) as exit_info:
        step_time.main(["--cases", "mlp", "--mlp-steps", "100", "--from-step", "98", "--baseline", ""])
    assert exit_info.value.code == 2
    assert "--from-step: must be at least 0 and below mlp steps - 2 (98)" in capsys.readouterr().err


@needs_numba
def test_floor_benchmark_times_the_kernels_without_changing_the_training():
    """benchmarks.floor: wrapping every compiled kernel in a timer leaves the training as it was
    (same losses), times the kernels the MLP step calls, records one [W | σ²] product per
    tile-row block and input phase (forward: one phase each; backward of the hidden layer's dy:
    two), and puts the kernels back."""
    from benchmarks import floor
    import cosim.nn.adc_kernel as kernel_module

    floor.cpu_s_per_step(floor.make_trainer("mlp", "eapu", 6))        # compiles the kernels
    plain = floor.make_trainer("mlp", "eapu", 6)
    floor.cpu_s_per_step(plain)
    kernel = kernel_module._adc_accumulate
    timers = floor.KernelTimers()
    assert kernel_module._adc_accumulate is not kernel
    try:
        timed = floor.make_trainer("mlp", "eapu", 6)
        floor.cpu_s_per_step(timed, timers.window)     # steps 2-5
    finally:
        timers.restore()
    assert kernel_module._adc_accumulate is kernel
    assert np.array_equal(plain.state.run.loss, timed.state.run.loss)
    assert {"_adc_accumulate_py", "_digit_planes_py", "_select_py", "_land_and_count_py"} <= set(timers.seconds)
    assert all(s > 0 for s in timers.seconds.values())
    per_block = floor.gemm_summary(timers.gemms, 4)
    assert per_block["64x128"]["per_step"] == 1 and per_block["64x20"]["per_step"] == 1
    assert per_block["10x128"]["per_step"] == 2
    assert per_block["64x128"]["mean_plane_rows"] <= 32 * 8
