"""Analog bit-slice accumulation (adc.slice_accumulation: analog): one conversion per column per
vector phase of the accumulated slice charges, its price and its numerics."""
from __future__ import annotations

import numpy as np
import simpy

from cosim.hardware.chip import Chip
from cosim.nn.analog import AnalogMatrix
from cosim.sim.ledger import Ledger
from tests.conftest import HOST_CENTRIC, NOISELESS_DEVICE, hardware

ANALOG = {"slice_accumulation": "analog", "accumulation_energy": "0.1 pJ"}


def _one_product(hw, x, w):
    rng = np.random.default_rng(0)
    env, ledger = simpy.Environment(), Ledger()
    matrix = AnalogMatrix("m", w, hw, 1.0, rng)
    chip = Chip(env, hw, ledger, {"m": matrix})
    matrix.matmul(x)
    for op in matrix.ops:
        env.process(chip.mvm(op))
    env.run()
    acts, ops = ledger.actions(), ledger.transactions().op
    acts = acts[~ops.iloc[acts.tx].str.contains("calibration").to_numpy()]     # the product itself
    acts = acts.groupby("action").agg({"count": "sum", "energy_j": "sum"})
    return matrix, acts


def test_analog_accumulation_converts_each_column_once_per_vector_phase():
    w = np.random.default_rng(1).uniform(-0.5, 0.5, (100, 20))          # one tile
    x = np.random.default_rng(2).random((3, 100))                         # non-negative: one phase
    spec = dict(dac={"bits": 1, "input_bits": 4}, **HOST_CENTRIC)
    digital = _one_product(hardware(**spec), x, w)[1]
    matrix, analog = _one_product(hardware(adc=ANALOG, **spec), x, w)
    assert digital.loc["adc_conversion", "count"] == 3 * 4 * 20           # every slice converted
    assert "slice_accumulation" not in digital.index
    assert analog.loc["adc_conversion", "count"] == 3 * 20                # once per column per vector
    assert analog.loc["slice_accumulation", "count"] == 3 * 4 * 20
    assert analog.loc["slice_accumulation", "energy_j"] == np.float64(3 * 4 * 20 * 0.1e-12)
    assert matrix.adc_stats["forward"]["conversions"] == 3 * 20          # the kernel converts as often
    for action in ("dac_conversion", "array_read"):                       # the array still runs per slice
        assert analog.loc[action, "count"] == digital.loc[action, "count"]


def _product_error(adc, x, w):
    hw = hardware(device=NOISELESS_DEVICE, adc=adc)
    m = AnalogMatrix("w", w, hw, 1.0, np.random.default_rng(0))
    m.devices.set_exact(w)
    full = 2.0 ** hw.dac.input_bits - 1
    scale = np.abs(x).max()
    xq = np.rint(np.abs(x) / scale * full) * np.sign(x) * scale / full
    return float(np.abs(m.matmul(x) - xq @ w).max() / np.abs(xq @ w).max())


def test_noiseless_analog_accumulation_equals_the_quantised_input_product_with_enough_adc_bits():
    rng = np.random.default_rng(2)
    w, x = rng.uniform(-0.9, 0.9, (300, 140)), rng.normal(size=(9, 300))
    assert _product_error({**ANALOG, "bits": None}, x, w) < 1e-5       # ideal ADC: exact to float32
    errors = [_product_error({**ANALOG, "bits": b}, x, w) for b in (6, 10, 14)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-3      # one quantisation, finer with bits


def test_analog_accumulation_keeps_the_read_noise_of_the_slices():
    """Ideal ADC, read noise on: the accumulated value's σ equals the shift-added slices' σ."""
    rng = np.random.default_rng(4)
    w = rng.uniform(-0.9, 0.9, (64, 8))
    x = np.tile(rng.random(64), (4000, 1))             # one vector, 4000 independent reads
    spreads = []
    for adc in ({"bits": None}, {**ANALOG, "bits": None}):
        hw = hardware(device={"read_noise": 0.05}, adc=adc)
        m = AnalogMatrix("w", w, hw, 1.0, np.random.default_rng(5))
        spreads.append(m.matmul(x).std(axis=0))
    assert np.allclose(spreads[1], spreads[0], rtol=0.08)
    assert spreads[0].min() > 0
