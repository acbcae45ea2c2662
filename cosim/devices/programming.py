"""Programming procedures on a DeviceArray: open-loop pulse trains and closed-loop write-verify.

Both take weight changes in units of the weight bound for a set of weight cells (flat indices
into (rows, cols)) and move the active device of each pair (see DeviceArray).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.devices.array import DeviceArray, WriteOutcome, flat_view


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
    the chip's convention (a count of zero writes nothing), no read-back."""
    devices, delta_x = device_changes(array, cells, delta_fraction)
    return array.apply_pulses(devices, array.response.pulses_for(delta_x, array.rng), now)


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
    else pulse towards the target (at most `max_pulses`), for at most `max_iterations` rounds."""
    array.advance_to(now)
    count = devices.size
    reads_log = np.zeros((max_iterations, count), dtype=np.int32)
    pulses_log = np.zeros((max_iterations, count))
    up_log = np.zeros((max_iterations, count), dtype=bool)
    pending = np.arange(count)
    for iteration in range(max_iterations):
        reads_log[iteration, pending] = reads
        error = target_x[pending] - array.read_normalised(devices[pending], reads)
        outside = np.abs(error) > tolerance
        pending = pending[outside]
        if pending.size == 0:
            break
        wanted = error[outside]
        # A verify that found a cell out of tolerance corrects it: at least one pulse.
        n = array.response.limit(array.response.pulses_for(wanted, rounding="at_least_one"), max_pulses)
        outcome = array.apply_pulses(devices[pending], n, now)
        pulses_log[iteration, pending] = outcome.pulses
        up_log[iteration, pending] = outcome.potentiating
    converged = np.ones(count, dtype=bool)
    converged[pending] = False
    return VerifyOutcome(devices, reads_log, pulses_log, up_log, converged)
