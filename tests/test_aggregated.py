"""Aggregated bit-slice numerics (hardware.mvm_numerics: auto, cosim.nn.aggregated): where its
run-time check passes it has the mean and variance of the exact bit-serial model (and of the
closed form); where it fails the product is the exact one, bit for bit; runs stay deterministic.

Statistical bounds: K outputs (4 distinct input vectors x 6 columns), each from n = 4000 copies of
its vector in one product (independent read-noise draws per copy). Under H0 (same mean and
variance) each mean z-score is ~N(0, 1) and each log variance ratio has SE ≈ sqrt(4 / (n - 1))
(two Gaussian sample variances; the exact error's slightly negative excess kurtosis only shrinks
it). Per output |z| < 4 (Bonferroni over K = 24: false alarm ≤ 24 · 6.3e-5 = 1.5e-3); pooled over
the K independent outputs, |mean z| < 4 / sqrt(K) and |mean log ratio| < 4 · SE / sqrt(K) + 0.01,
the 0.01 allowing for the dither approximation's own residual (≤ ~0.7 % at σ = LSB/2, see
cosim.nn.aggregated). The draws are seeded, so the outcome is fixed; the bounds say it is not
tuned."""
from __future__ import annotations

import numpy as np
import pytest

from cosim.nn import aggregated
from cosim.nn.adc_kernel import quantise
from cosim.nn.analog import AnalogMatrix
from tests.conftest import hardware, workload

N_COPIES, ROWS, COLS = 4000, 200, 6     # 200 rows: two tile-row blocks of 128 + 72


def _matrix(mode: str, read_noise: float, **adc):
    hw = hardware(device={"read_noise": read_noise, "stuck_fraction": 0.0}, adc=adc, mvm_numerics=mode)
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.9, 0.9, (ROWS, COLS))
    m = AnalogMatrix("w", w, hw, 1.0, np.random.default_rng(1))
    m.devices.set_exact(w)
    return m


def _inputs():
    """Four dense positive vectors (every slice drives many rows), each repeated N_COPIES times."""
    x0 = np.random.default_rng(3).uniform(0.2, 1.0, size=(4, ROWS))
    return x0, np.repeat(x0, N_COPIES, axis=0)


def _moments(y):
    y = y.reshape(4, N_COPIES, -1)
    return y.mean(axis=1).ravel(), y.var(axis=1, ddof=1).ravel()


def _assert_same_moments(mean_a, var_a, mean_b, var_b, n_b=N_COPIES):
    """The bounds of the module docstring; var_b may be a closed form (n_b = inf)."""
    k = mean_a.size
    z = (mean_a - mean_b) / np.sqrt(var_a / N_COPIES + var_b / n_b)
    log_ratio = np.log(var_a / var_b)
    se = np.sqrt(2.0 / (N_COPIES - 1) + (2.0 / (n_b - 1) if np.isfinite(n_b) else 0.0))
    assert np.abs(z).max() < 4.0, z
    assert abs(z.mean()) < 4.0 / np.sqrt(k), z.mean()
    assert np.abs(log_ratio).max() < 4.0 * se + 0.01, log_ratio
    assert abs(log_ratio.mean()) < 4.0 * se / np.sqrt(k) + 0.01, log_ratio.mean()


def _closed_form_variance(m: AnalogMatrix, x0: np.ndarray, quantisation: bool = True) -> np.ndarray:
    """Var of each output under the dither model (cosim.nn.aggregated): per block
    Σ_r L(c_r) σ_r² + (q²/12) Σ_{converted s} B^2s, in output units."""
    dac = m.hw.dac
    full = 2.0 ** dac.input_bits - 1
    scale = np.abs(x0).max()
    codes = quantise(x0, full / scale, dac.input_bits)
    g = m.devices.x + m.devices.g_min_x
    sigma2 = m.hw.device.read_noise ** 2 * (g[0] ** 2 + g[1] ** 2)
    table = aggregated.tables(dac.bits, dac.input_bits, dac.slices)
    var = np.zeros((x0.shape[0], COLS))
    for rows in m.row_blocks:
        block = codes[:, rows]
        q = m._adc_step("forward", block.shape[1])
        var += table["noise"][block].astype(float) @ sigma2[rows]
        if quantisation:
            var += (table["quant"][np.bitwise_or.reduce(block, axis=1)] * q * q / 12.0)[:, None]
    return (var * (scale / full) ** 2).ravel()


@pytest.mark.parametrize("read_noise, aggregated_blocks", [(0.02, 1), (0.05, 2)])
def test_aggregated_has_the_mean_and_variance_of_exact(read_noise, aggregated_blocks):
    """At 2 % read noise the 72-row block's slices carry too little noise and run exact (a mixed
    product), at 5 % both blocks run aggregated."""
    x0, x = _inputs()
    exact, auto = _matrix("exact", read_noise), _matrix("auto", read_noise)
    y_exact, y_auto = exact.matmul(x), auto.matmul(x)
    stats = auto.numerics["forward"]
    assert stats["aggregated"] == aggregated_blocks and stats["exact"] == 2 - aggregated_blocks
    assert stats["fallback"] == ({"dither": 1} if aggregated_blocks == 1 else {})
    _assert_same_moments(*_moments(y_auto), *_moments(y_exact))
    # The same hardware work: conversions and conductance load as the exact product.
    assert auto.adc_stats["forward"]["conversions"] == exact.adc_stats["forward"]["conversions"]
    assert np.allclose(auto.ops[0].conductance_load, exact.ops[0].conductance_load, rtol=1e-9)


def test_exact_variance_is_the_closed_form_and_needs_its_quantisation_term():
    """The exact bit-serial outputs have the dither model's variance (mean: the noiseless
    quantised-input product); without the q²/12 term the same bounds reject it."""
    x0, x = _inputs()
    exact = _matrix("exact", 0.02)
    mean, var = _moments(exact.matmul(x))
    full = 2.0 ** exact.hw.dac.input_bits - 1
    scale = np.abs(x0).max()
    xq = quantise(x0, full / scale, exact.hw.dac.input_bits) * (scale / full)
    expected_mean = (xq @ exact.devices.weight_fraction()).ravel()
    _assert_same_moments(mean, var, expected_mean, _closed_form_variance(exact, x0), n_b=np.inf)
    with pytest.raises(AssertionError):
        _assert_same_moments(mean, var, expected_mean, _closed_form_variance(exact, x0, False), n_b=np.inf)


@pytest.mark.parametrize("read_noise, reason", [(0.0, "no_read_noise"), (0.001, "dither")])
def test_auto_falls_back_to_exact_bit_for_bit_where_noise_does_not_dither(read_noise, reason):
    _, x = _inputs()
    exact, auto = _matrix("exact", read_noise), _matrix("auto", read_noise)
    dy = np.random.default_rng(4).normal(size=(300, COLS))
    assert np.array_equal(exact.matmul(x[:300]), auto.matmul(x[:300]))
    assert np.array_equal(exact.matmul_t(dy), auto.matmul_t(dy))
    for direction in ("forward", "backward"):     # 2 row blocks forward; 2 input phases backward
        stats = auto.numerics[direction]
        assert stats["aggregated"] == 0 and stats["fallback"] == {reason: 2}


def test_auto_falls_back_where_a_sampled_conversion_could_clip():
    """A fixed ADC range far below the currents: the check sees conversions near clipping."""
    _, x = _inputs()
    exact = _matrix("exact", 0.05, calibration="fixed", full_scale=0.002)
    auto = _matrix("auto", 0.05, calibration="fixed", full_scale=0.002)
    assert np.array_equal(exact.matmul(x[:500]), auto.matmul(x[:500]))
    assert auto.numerics["forward"]["fallback"] == {"clipping": 2}
    assert all(c["near_clipping"] > 0 for c in auto.numerics["forward"]["last_check"])


def test_auto_is_deterministic_and_advances_the_device_stream_as_exact():
    _, x = _inputs()
    a, b, exact = _matrix("auto", 0.05), _matrix("auto", 0.05), _matrix("exact", 0.05)
    assert np.array_equal(a.matmul(x[:400]), b.matmul(x[:400]))
    exact.matmul(x[:400])
    assert a.rng.integers(2 ** 63) == exact.rng.integers(2 ** 63)   # one key per block in both modes


def test_aggregated_normals_equal_the_counter_normals():
    assert np.array_equal(aggregated._normals(12345, 1000),
                          aggregated.noise.normals(np.uint64(12345), np.arange(1000, dtype=np.uint64)))


def test_summary_records_which_layers_ran_aggregated_and_why_others_fell_back():
    """digits MLP 64-64-10 with 5 % read noise, batch 256: the wide forward products pass; the
    backward product of the 10-row output layer (few rows per slice, small σ) falls back on
    dither; at the default batch of 32 every product is too small to aggregate."""
    import cosim.api as api

    result = api.run(workload(steps=3, methods=("eapu",), eval_every=3, batch_size=256),
                     hardware(device={"read_noise": 0.05}, mvm_numerics="auto"))
    summary = result.summary
    assert summary["mvm_numerics"] == "auto"
    layers = summary["methods"]["eapu"]["layers"]
    forward = layers["linear1"]["adc"]["forward"]["numerics"]
    backward = layers["linear2"]["adc"]["backward"]["numerics"]
    assert forward["aggregated_blocks"] > 0
    assert backward["aggregated_blocks"] == 0 and backward["exact_blocks"] > 0 and set(backward["fallback"]) == {"dither"}


def test_products_below_min_vectors_run_exact():
    _, x = _inputs()
    exact, auto = _matrix("exact", 0.05), _matrix("auto", 0.05)
    assert np.array_equal(exact.matmul(x[:aggregated.MIN_VECTORS - 1]), auto.matmul(x[:aggregated.MIN_VECTORS - 1]))
    assert auto.numerics["forward"]["fallback"] == {"small_product": 2}


@pytest.mark.slow
def test_training_with_auto_numerics_reaches_the_accuracy_of_exact():
    """digits MLP, batch 256, 5 % read noise, 150 steps of eapu and bp_open_loop: test accuracy with
    mvm_numerics auto (forward products aggregated, the output layer's backward exact) within
    noise of exact's. Noise: 450 test digits give a binomial SE ≤ 0.5 / sqrt(450) = 0.024 per
    accuracy; the bound is 3 SE of a difference, 3 · sqrt(2) · 0.024 = 0.10 (the runs also differ
    in every read-noise draw, so the gap is at least that kind of noise)."""
    import cosim.api as api

    wl = workload(steps=150, methods=("eapu", "bp_open_loop"), eval_every=150, batch_size=256)
    accuracy = {}
    for mode in ("exact", "auto"):
        result = api.run(wl, hardware(device={"read_noise": 0.05}, mvm_numerics=mode))
        accuracy[mode] = {m: s["metric"]["value"] for m, s in result.summary["methods"].items()}
        if mode == "auto":
            layers = result.summary["methods"]["eapu"]["layers"]
            assert layers["linear1"]["adc"]["forward"]["numerics"]["aggregated_blocks"] > 0
    for method in accuracy["exact"]:
        assert abs(accuracy["auto"][method] - accuracy["exact"][method]) < 3 * np.sqrt(2) * 0.5 / np.sqrt(450), accuracy
        assert accuracy["exact"][method] > 0.5, accuracy      # both train (chance: 0.1)
