"""Weight → conductance mapping: the digital scale that puts a layer's weights on its devices.

A weight w is stored as w = s · (x⁺ - x⁻), x the normalised conductance of each device of the
pair (0 at g_min, 1 at g_max) and s the mapping scale in weight units: the weight one full
device range stands for. The host multiplies each ADC output by s (per layer, or per column)
after the conversion; that multiply is digital work and is priced as a host op per output.

Policies (`training.mapping`):
  max_abs  s = headroom · max |W_init| of the layer (granularity `layer`) or of each column
           (`column`), so the initial weights use 1/headroom of the range and training can grow
           them by that factor before the devices saturate. This is aihwkit's weight scaling
           (MappingParameter.weight_scaling_omega: max |W| is mapped to omega of the device's
           bound, with weight_scaling_columnwise for the per-column variant; omega = 1/headroom)
           and NeuroSim's per-layer normalisation of weights onto [minWeight, maxWeight].
  fixed    s = training.weight_bound for every layer (cosim's old convention).

A layer that starts at zero (e.g. DnCNN's last conv, zero_init_last) has no max |W| to map; it
gets the scale a He-normal draw of its fan-in would have had (max |W| ≈ 3 σ, σ = √(2/fan_in);
cosim's only zero-initialised layers sit in ReLU networks, which cosim initialises He-normal),
rather than falling back to the fixed bound, which for small layers wastes most of the range
and makes one stuck-at-g_max device a weight of ±1.
"""
from __future__ import annotations

import numpy as np

# max |W| of a zero-initialised layer, in He-normal standard deviations (see module docstring)
ZERO_LAYER_SIGMAS = 3.0


def zero_layer_max_abs(fan_in: int) -> float:
    """Stand-in max |W| (weight units) for a layer of `fan_in` inputs that starts at zero."""
    return ZERO_LAYER_SIGMAS * float(np.sqrt(2.0 / fan_in))


def mapping_scale(w_init: np.ndarray, policy: str = "max_abs", headroom: float = 2.0,
                  granularity: str = "layer", fixed_bound: float = 1.0) -> float | np.ndarray:
    """Mapping scale s (weight units per full device range) for a matrix of shape (in, out):
    a float for `layer` granularity, an array of shape (out,) for `column`."""
    if policy == "fixed":
        return float(fixed_bound)
    if policy != "max_abs":
        raise ValueError(f"unknown mapping policy {policy!r}; known: max_abs, fixed")
    if headroom < 1.0:
        raise ValueError(f"mapping headroom {headroom} < 1 would saturate the initial weights")
    stand_in = zero_layer_max_abs(w_init.shape[0])
    magnitude = np.abs(w_init)
    if granularity == "layer":
        peak = float(magnitude.max(initial=0.0))
        return headroom * (peak if peak > 0 else stand_in)
    if granularity == "column":
        peak = magnitude.max(axis=0, initial=0.0)
        return headroom * np.where(peak > 0, peak, stand_in)
    raise ValueError(f"unknown mapping granularity {granularity!r}; known: layer, column")
