"""Programming procedures on a DeviceArray: open-loop pulse trains and closed-loop write-verify.

Both take weight changes in units of the weight bound for a set of weight cells (flat indices
into (rows, cols)) and move the active device of each pair (see DeviceArray).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.devices.array import DeviceArray, WriteOutcome, _clip_unit_nb, flat_view
from cosim.devices.behaviours import Parametric
from cosim.devices.response import _after_one_nb
from cosim.jit import jit


@dataclass
class VerifyOutcome:
    """Per-iteration record of a write-verify run over `devices` (flat indices).

    reads[i, d]: verify reads of device d in iteration i (0 once it has converged);
    pulses[i, d]: pulses it received after that read; potentiating[i, d]: their polarity.
    """

    devices: np.ndarray
    reads: np.ndarray
    pulses: np.ndarray
    potentiating: np.ndarray
    converged: np.ndarray

    @property
    def device_pulses(self) -> np.ndarray:
        """Pulses per device over all iterations."""
        return self.pulses.sum(axis=0)

    @property
    def device_writes(self) -> np.ndarray:
        """Write cycles per device: each iteration that pulsed it is one."""
        return (self.pulses > 0).sum(axis=0).astype(float)

    @property
    def iterations(self) -> np.ndarray:
        """Verify iterations each device needed (>= 1: the first read checks it)."""
        return (self.reads > 0).sum(axis=0)


def device_changes(array: DeviceArray, cells: np.ndarray, delta_fraction: np.ndarray):
    """(device flat indices, normalised conductance changes) for weight changes of `cells`,
    as the device's behaviour maps them onto the pair (see cosim.devices.behaviours)."""
    return array.behaviour.device_changes(array.x, cells, delta_fraction)


def program_open_loop(array: DeviceArray, cells: np.ndarray, delta_fraction: np.ndarray,
                      now: float) -> WriteOutcome:
    """One pulse train per cell, sized for the wanted change on a nominal device and rounded by
    the chip's convention (a count of zero writes nothing), no read-back. Compiled, in two
    passes with the same values and draws, for a parametric device (see _compiled_open_loop)."""
    if _compiled_open_loop(array):
        return _program_open_loop_compiled(array, cells, delta_fraction, now)
    devices, delta_x = device_changes(array, cells, delta_fraction)
    return array.apply_pulses(devices, array.response.pulses_for(delta_x, array.rng), now)


# ----- compiled writes of a parametric device: open loop and write-verify --------------------
_NEAREST, _AT_LEAST_ONE = 0, 1
_CONTINUOUS = 2           # no rounding: a continuous device moves by the exact fractional count
_ROUNDING_CODES = {"nearest": _NEAREST, "at_least_one": _AT_LEAST_ONE}
_STATE = ("x", "write_count", "pulse_count", "last_write_time", "step_scale", "endurance", "stuck")


def _compiled_writes(array: DeviceArray) -> bool:
    """Whether writes to `array` may run compiled: numba, the parametric behaviour itself (its
    subclasses land differently) and contiguous state arrays."""
    return (_land_and_count_nb is not None and type(array.behaviour) is Parametric
            and all(getattr(array, name).flags.c_contiguous for name in _STATE))


def _compiled_open_loop(array: DeviceArray) -> bool:
    """Whether program_open_loop may run compiled: compiled writes and a rounding that draws nothing."""
    response = array.response
    return _compiled_writes(array) and (response.continuous or response.rounding in _ROUNDING_CODES)


def _program_open_loop_compiled(array: DeviceArray, cells, delta_fraction, now: float) -> WriteOutcome:
    """program_open_loop in the order of the numpy path: the pulse counts from the state as it
    was (device_changes, pulses_for, apply_pulses' n != 0), then the array relaxes to `now`, then
    the cycle noise is drawn and the devices land and count their wear (Parametric.land,
    DeviceArray._count_wear)."""
    response = array.response
    rounding = _CONTINUOUS if response.continuous else _ROUNDING_CODES[response.rounding]
    plane = array.x[0].size
    devices, n = _open_loop_pulses_nb(array.x.reshape(-1), np.asarray(cells, dtype=np.intp),
                                      np.asarray(delta_fraction, dtype=np.float64), plane, response.levels,
                                      rounding)
    array.advance_to(now)
    return _land_compiled(array, devices, n, now)


def _land_compiled(array: DeviceArray, devices: np.ndarray, n: np.ndarray, now: float) -> WriteOutcome:
    """DeviceArray.apply_pulses of nonzero counts `n` on distinct `devices` of an array already
    at `now`: the cycle noise drawn, then landing and wear in one compiled pass."""
    response, spec = array.response, array.spec
    z = array.rng.standard_normal(n.shape)
    pulses, worn = _land_and_count_nb(
        array.x.reshape(-1), devices, n, z, array.step_scale.reshape(-1), array.stuck.reshape(-1),
        array.write_count.reshape(-1), array.pulse_count.reshape(-1), array.last_write_time.reshape(-1),
        array.endurance.reshape(-1), np.float32(now), spec.endurance_unit == "pulses", spec.write_noise,
        float(response.nu_up), float(response.nu_down), response.levels, response.continuous)
    array.stick_worn(devices[worn])
    return WriteOutcome(devices, pulses, n > 0)


def _verify_read_compiled(array: DeviceArray, devices, pending, target_x, tolerance: float, max_pulses: int,
                          reads: int) -> tuple[np.ndarray, np.ndarray]:
    """One verify of program_verify's numpy path, compiled: the read noise drawn as
    read_normalised draws it, then (the devices still outside tolerance, their pulse counts)."""
    spec, response = array.spec, array.response
    z = array.rng.standard_normal(pending.size) if spec.read_noise else np.zeros(pending.size)
    return _verify_read_nb(array.x.reshape(-1), devices, pending, np.asarray(target_x, dtype=np.float64), z,
                           spec.read_noise, array.g_min_x, np.sqrt(reads), tolerance, response.levels,
                           float(max_pulses), _CONTINUOUS if response.continuous else _AT_LEAST_ONE)


def _signed_count(exact, rounding):
    """round_pulses of one signed fractional count (rounding: a _ROUNDING_CODES value or
    _CONTINUOUS)."""
    if rounding == _CONTINUOUS:
        return exact
    magnitude = abs(exact)
    whole = np.floor(magnitude + 0.5)
    if rounding == _AT_LEAST_ONE:
        whole = max(whole, 1.0) if magnitude > 0 else 0.0
    return np.sign(exact) * whole


_signed_count_nb = jit(_signed_count)


def _open_loop_pulses_py(x, cells, delta, plane, levels, rounding):
    """(devices, signed pulse counts) of the nonzero counts, in the numpy path's order: each
    cell's active device (active_device_changes), then the other device of each cell whose
    weight crosses zero, its counts rounded as pulses_for does."""
    devices, counts = np.empty(2 * cells.size, dtype=np.intp), np.empty(2 * cells.size)
    k = 0
    for crossing_pass in (False, True):
        for i in range(cells.size):
            x_plus, x_minus = x[cells[i]], x[plane + cells[i]]
            on_minus = x_minus > x_plus or (x_minus == x_plus and delta[i] < 0)
            magnitude = x_minus if on_minus else x_plus
            change = -delta[i] if on_minus else delta[i]
            crossing = magnitude + change < 0
            if crossing_pass and not crossing:
                continue
            if crossing_pass:
                device, wanted = (0 if on_minus else plane) + cells[i], -(magnitude + change)
            else:
                device, wanted = (plane if on_minus else 0) + cells[i], -magnitude if crossing else change
            n = _signed_count_nb(wanted * levels, rounding)
            if n != 0:
                devices[k], counts[k] = device, n
                k += 1
    return devices[:k], counts[:k]


def _land_and_count_py(x, devices, n, z, step_scale, stuck, write_count, pulse_count, last_write_time,
                       endurance, now, wear_in_pulses, write_noise, nu_up, nu_down, levels, continuous):
    """Parametric.land and DeviceArray._count_wear device by device (devices distinct): the
    expected landing plus σ·√pulses·z within [0, 1] (a stuck device keeps its state), one write
    cycle and its pulses counted, the write time set. Returns (pulses, worn-out mask)."""
    e_up, e_down = np.expm1(-nu_up), np.expm1(-nu_down)
    pulses, worn = np.empty(devices.size), np.zeros(devices.size, dtype=np.bool_)
    for i in range(devices.size):
        d = devices[i]
        p = (1.0 if n[i] != 0 else 0.0) if continuous else abs(n[i])
        target = _after_one_nb(x[d], n[i], np.float64(step_scale[d]), nu_up, nu_down, levels, e_up, e_down)
        landed = _clip_unit_nb(target + write_noise * np.sqrt(p) * z[i])
        if not stuck[d]:
            x[d] = landed
        write_count[d] += np.uint32(1)
        pulse_count[d] += np.uint32(p)
        last_write_time[d] = now
        worn[i] = (pulse_count[d] if wear_in_pulses else write_count[d]) >= endurance[d] and not stuck[d]
        pulses[i] = p
    return pulses, worn


def _verify_read_py(x, devices, pending, target_x, z, read_noise, g_min_x, sqrt_reads, tolerance, levels,
                    max_pulses, rounding):
    """read_normalised of the pending devices (σ ∝ conductance, over √reads; no noise when
    read_noise is 0), the error to the target, the tolerance test and the correction: the
    at-least-one-pulse count of pulses_for, capped by limit (a continuous device is not)."""
    kept, counts = np.empty(pending.size, dtype=pending.dtype), np.empty(pending.size)
    k = 0
    for i in range(pending.size):
        value = x[devices[pending[i]]]
        if read_noise:
            value = value + read_noise * (g_min_x + value) / sqrt_reads * z[i]
        error = target_x[pending[i]] - value
        if abs(error) > tolerance:
            n = _signed_count_nb(error * levels, rounding)
            kept[k] = pending[i]
            counts[k] = n if rounding == _CONTINUOUS else min(max(n, -max_pulses), max_pulses)
            k += 1
    return kept[:k], counts[:k]


_verify_read_nb = jit(_verify_read_py)
_open_loop_pulses_nb = jit(_open_loop_pulses_py)
_land_and_count_nb = jit(_land_and_count_py)


def program_verify_delta(array: DeviceArray, cells: np.ndarray, delta_fraction: np.ndarray,
                         tolerance: float, max_iterations: int, max_pulses: int, reads: int,
                         now: float) -> VerifyOutcome:
    """Write-verify each cell's active device to its current value plus the wanted change."""
    devices, delta_x = device_changes(array, cells, delta_fraction)
    target = np.clip(flat_view(array.x)[devices] + delta_x, 0.0, 1.0)
    return program_verify(array, devices, target, tolerance, max_iterations, max_pulses, reads, now)


def program_verify(array: DeviceArray, devices: np.ndarray, target_x: np.ndarray, tolerance: float,
                   max_iterations: int, max_pulses: int, reads: int, now: float) -> VerifyOutcome:
    """Closed loop: read (averaging `reads` reads), stop if within `tolerance` (normalised),
    else pulse towards the target (at most `max_pulses`), for at most `max_iterations` rounds.
    Each read and each correction is compiled for a parametric device (see _compiled_writes)."""
    array.advance_to(now)
    count = devices.size
    reads_log = np.zeros((max_iterations, count), dtype=np.int32)
    pulses_log = np.zeros((max_iterations, count))
    up_log = np.zeros((max_iterations, count), dtype=bool)
    pending = np.arange(count)
    compiled = _compiled_writes(array)
    for iteration in range(max_iterations):
        reads_log[iteration, pending] = reads
        if compiled:
            pending, n = _verify_read_compiled(array, devices, pending, target_x, tolerance, max_pulses, reads)
        else:
            error = target_x[pending] - array.read_normalised(devices[pending], reads)
            outside = np.abs(error) > tolerance
            pending = pending[outside]
            # A verify that found a cell out of tolerance corrects it: at least one pulse.
            n = array.response.limit(array.response.pulses_for(error[outside], rounding="at_least_one"), max_pulses)
        if pending.size == 0:
            break
        outcome = _land_compiled(array, devices[pending], n, now) if compiled else array.apply_pulses(
            devices[pending], n, now)
        pulses_log[iteration, pending] = outcome.pulses
        up_log[iteration, pending] = outcome.potentiating
    converged = np.ones(count, dtype=bool)
    converged[pending] = False
    return VerifyOutcome(devices, reads_log, pulses_log, up_log, converged)
