"""Device behaviours: how pulses move a device and how a weight change maps onto a pair.

A preset whose physics fits the parametric model (NeuroSim exponential response, σ·√pulses
cycle noise) needs only YAML. A behaviour that does not fit is one small class here, registered
by name with @register_behaviour (cosim.registry.BEHAVIOURS) and chosen by the spec's `device.model`.

Every behaviour offers:
  response            pulses_for / limit / charged_pulses / after_pulses (expected landing);
  land(x, n, scale, rng) -> (new x, physical pulses)   one noisy programming event;
  device_changes(x, cells, delta) -> (device flat indices, normalised changes)
                      how a weight change is split over the differential pair.
"""
from __future__ import annotations

import numpy as np

from cosim.devices.response import PulseResponse, active_of_pair, round_pulses
from cosim.registry import BEHAVIOURS, register_behaviour
from cosim.specs.hardware import DeviceSpec


def active_device_changes(x: np.ndarray, cells: np.ndarray,
                          delta_fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sign-magnitude mapping of weight changes of `cells` onto the pair state `x` (2, R, C).

    The active device moves by the change; a change that would take it below g_min (the weight
    crossing zero) resets it to g_min and programs the remainder onto the other device.
    """
    plane = x.shape[1] * x.shape[2]
    x_plus, x_minus = x[0].ravel()[cells], x[1].ravel()[cells]
    on_minus, magnitude, change = active_of_pair(x_plus, x_minus, delta_fraction)
    crossing = magnitude + change < 0
    active = on_minus.astype(np.intp) * plane + cells
    other = (~on_minus).astype(np.intp) * plane + cells
    devices = np.concatenate([active, other[crossing]])
    deltas = np.concatenate([np.where(crossing, -magnitude, change), -(magnitude + change)[crossing]])
    return devices, deltas


@register_behaviour("parametric")
class Parametric:
    """Bidirectional analog device: NeuroSim exponential response, cycle noise σ·√pulses."""

    def __init__(self, spec: DeviceSpec):
        self.spec = spec
        self.response = PulseResponse(spec.levels, spec.nonlinearity_up, spec.nonlinearity_down, spec.rounding)

    def land(self, x: np.ndarray, n: np.ndarray, step_scale: np.ndarray,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        pulses = self.response.charged_pulses(n)
        target = self.response.after_pulses(x, n, step_scale)
        noise = self.spec.write_noise * np.sqrt(pulses) * rng.standard_normal(n.shape)
        return np.clip(target + noise, 0.0, 1.0), pulses

    def device_changes(self, x: np.ndarray, cells: np.ndarray, delta: np.ndarray):
        return active_device_changes(x, cells, delta)


@register_behaviour("unidirectional")
class Unidirectional(Parametric):
    """Only SET pulses move the device gradually (PCM crystallisation); lowering a device is a
    RESET (one melt-quench pulse to g_min) followed by SET pulses up to the nominal target.

    A pair is updated by potentiating + for a positive and − for a negative change; when the
    potentiated device would pass `reset_level`, both are RESET and |w| is re-programmed onto
    one (the periodic refresh of differential PCM, Burr et al. 2015).
    """

    def land(self, x, n, step_scale, rng):
        down = n < 0
        if not down.any():
            return super().land(x, n, step_scale, rng)
        # Nominal target the controller aimed at (it assumes a linear device): x + n / levels.
        rebuild = np.where(down, self.response.pulses_for(np.clip(x + n / self.response.levels, 0.0, 1.0), rng), n)
        start = np.where(down, 0.0, x)
        landed, pulses = super().land(start, rebuild, step_scale, rng)
        return landed, pulses + down       # the RESET is one more pulse

    def device_changes(self, x, cells, delta):
        plane = x.shape[1] * x.shape[2]
        x_plus, x_minus = x[0].ravel()[cells], x[1].ravel()[cells]
        grow = np.where(delta >= 0, 0, 1).astype(np.intp)
        grown = np.where(delta >= 0, x_plus, x_minus) + np.abs(delta)
        refresh = grown > self.spec.reset_level
        keep = ~refresh
        devices = [grow[keep] * plane + cells[keep]]
        deltas = [np.abs(delta[keep])]
        if refresh.any():
            c = cells[refresh]
            w_new = np.clip(x_plus[refresh] - x_minus[refresh] + delta[refresh], -1.0, 1.0)
            target_plus, target_minus = np.maximum(w_new, 0.0), np.maximum(-w_new, 0.0)
            devices += [c, plane + c]
            deltas += [target_plus - x_plus[refresh], target_minus - x_minus[refresh]]
        devices, deltas = np.concatenate(devices), np.concatenate(deltas)
        return devices, deltas


class BinarySlicedResponse:
    """Weights as 2^B - 1 levels, each bit held by one binary cell (B = cells_per_weight).

    n signed "pulses" move the stored code by n LSBs; the physical pulses are the bits that
    flip (one switching pulse per flipped cell).
    """

    def __init__(self, bits: int, rounding: str = "nearest"):
        self.bits, self.rounding = bits, rounding
        self.levels = float(2 ** bits - 1)
        self.continuous = False

    def code(self, x: np.ndarray) -> np.ndarray:
        return np.rint(np.clip(x, 0.0, 1.0) * self.levels).astype(np.int64)

    def after_pulses(self, x, n, step_scale=None):
        return np.clip(self.code(x) + np.rint(n).astype(np.int64), 0, int(self.levels)) / self.levels

    def pulses_for(self, delta_x, rng=None, rounding=None):
        return round_pulses(delta_x * self.levels, rounding or self.rounding, rng)

    def limit(self, n, max_pulses):
        return np.clip(n, -max_pulses, max_pulses)

    def charged_pulses(self, n):
        """Upper bound used for sizing; `land` returns the exact flipped-bit count."""
        return np.abs(n)


def _popcount(values: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(values.astype(">u8").view(np.uint8).reshape(-1, 8), axis=1)
    return bits.sum(axis=1).astype(float)


@register_behaviour("binary_sliced", multi_cell=True)
class BinarySliced(Parametric):
    """Binary cells (STT/SOT-MRAM): a device of a pair is B cells read with binary significance.
    Each flip fails with probability `switching_error` (the cell keeps its old state)."""

    def __init__(self, spec: DeviceSpec):
        self.spec = spec
        self.response = BinarySlicedResponse(spec.cells_per_weight, spec.rounding)

    def land(self, x, n, step_scale, rng):
        old = self.response.code(x)
        wanted = self.response.code(self.response.after_pulses(x, n))
        flips = old ^ wanted
        failed = np.zeros_like(flips)
        if self.spec.switching_error:
            for bit in range(self.response.bits):
                mask = 1 << bit
                fail = (flips & mask).astype(bool) & (rng.random(flips.shape) < self.spec.switching_error)
                failed |= np.where(fail, mask, 0)
        landed = wanted ^ failed
        return landed / self.response.levels, _popcount(flips)


def make_behaviour(spec: DeviceSpec) -> Parametric:
    return BEHAVIOURS[spec.model].make(spec)
