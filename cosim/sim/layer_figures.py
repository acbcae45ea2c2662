"""Per analog layer: its weight mapping, the write noise, EaPU step and verify tolerance in
conductance and in weight units, and its ADC range and conversion statistics."""
from __future__ import annotations

import numpy as np

from cosim.rules import context_for


def _span(value) -> float | dict:
    """A per-layer float as is; a per-column array as its min / median / max."""
    if np.ndim(value) == 0:
        return float(value)
    value = np.asarray(value, dtype=float)
    return {"min": float(value.min()), "median": float(np.median(value)), "max": float(value.max())}


def adc_figures(matrix) -> dict:
    """Per direction: full scale (fraction of tile rows · V_read · (g_max - g_min), as the spec's
    adc.full_scale), clipped share of training conversions, and the share of a calibration
    batch's conversions that round to code zero."""
    hw = matrix.hw
    digit_max = 1 if hw.dac.bits is None else 2 ** hw.dac.bits - 1
    out = {}
    for direction, stats in matrix.adc_stats.items():
        if not stats["conversions"]:
            continue
        fs = matrix.adc_full_scale[direction]
        exact_conversions = stats["conversions"] - stats["aggregated_conversions"]
        out[direction] = {
            "full_scale_fraction": (fs / (hw.tile.rows * digit_max)) if fs else hw.adc.full_scale,
            "calibrations": stats["calibrations"],
            # Clipping is counted on exactly computed products only (aggregated ones are checked).
            "clipped_fraction": (stats["clipped"] / exact_conversions) if exact_conversions else None,
            "zero_code_fraction_at_calibration": (stats["calibration_zero"] / stats["calibration_conversions"]
                                                  if stats["calibration_conversions"] else None)}
        if hw.mvm_numerics != "exact":
            out[direction]["numerics"] = numerics_figures(matrix.numerics[direction])
    return out


def numerics_figures(stats: dict) -> dict:
    """Under mvm_numerics auto: block products (one input phase of one tile-row block of a
    training product) run aggregated and exact, why the exact ones fell back (cosim.nn.aggregated.check: dither, clipping, no_signal; small_product; or a chip
    without read noise, sliced DAC or quantising ADC), and the last product's check figures per block."""
    return {"aggregated_blocks": stats["aggregated"], "exact_blocks": stats["exact"],
            "fallback": dict(sorted(stats["fallback"].items())), "last_check": stats["last_check"]}


def layer_figures(matrices: dict, hw, rule) -> dict:
    """Per analog matrix (see module docstring); S = siemens, w = weight units."""
    g_range = hw.device.g_range
    out = {}
    for name, m in matrices.items():
        if not hasattr(m, "devices"):
            continue
        ctx = context_for(name, m, hw, 1.0, 0.0)
        scale = m.weight_bound
        sigma = m.devices.nominal_write_sigma
        entry = {"mapping_scale_w": _span(scale),
                 "sigma_write": {"S": sigma * g_range, "w": _span(sigma * np.asarray(scale))},
                 "verify_tolerance": {"S": hw.write_verify.tolerance * g_range,
                                      "w": _span(hw.write_verify.tolerance * np.asarray(scale))},
                 "adc": adc_figures(m)}
        pulses = rule.pulses(ctx) if hasattr(rule, "pulses") else None
        if pulses is not None:
            n = float(np.mean(pulses))
            step = n / m.devices.response.levels
            entry["eapu_step"] = {"pulses": n, "S": step * g_range, "w": _span(step * np.asarray(scale)),
                                  "effective_k": rule.effective_k(ctx)}
        out[name] = entry
    return out
