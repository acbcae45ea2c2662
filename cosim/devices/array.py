"""State of every device of a crossbar, as arrays, and the vectorised operations on it.

Each weight is a differential pair: w = weight_bound · (x⁺ - x⁻), x the normalised conductance
(G - g_min)/(g_max - g_min). The host keeps one sign bit per weight telling which device of the
pair is active (here derived from the state: the larger one); updates move the active device
only, so the other stays at g_min until the weight crosses zero (sign-magnitude mapping).

Arrays have shape (2, rows, cols): index 0 is the + device, 1 the − device.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.devices.response import PulseResponse
from cosim.specs.hardware import DeviceSpec


@dataclass
class WriteOutcome:
    """What one programming operation did, per targeted device (flat indices into the array)."""

    devices: np.ndarray          # flat indices into the (2, rows, cols) state
    pulses: np.ndarray           # physical pulses applied, per device
    potentiating: np.ndarray     # True where the pulses were SET (up) pulses

    @property
    def device_pulses(self) -> np.ndarray:
        """Pulses per targeted device."""
        return self.pulses

    @property
    def device_writes(self) -> np.ndarray:
        """Write cycles per targeted device (one pulse train is one cycle)."""
        return (self.pulses > 0).astype(float)


class DeviceArray:
    """All devices of one weight matrix; every operation is vectorised over the cells it touches."""

    def __init__(self, spec: DeviceSpec, shape: tuple[int, int], rng: np.random.Generator):
        self.spec, self.shape, self.rng = spec, tuple(shape), rng
        full = (2, *shape)
        self.response = PulseResponse(spec.levels, spec.nonlinearity_up, spec.nonlinearity_down)
        # 29 bytes per device: only the conductance needs float64 (the noiseless analog network
        # must equal the FP64 reference); counts, times and drawn per-device constants fit 32 bits.
        self.x = np.zeros(full)                     # normalised conductance, fresh devices at g_min
        self.write_count = np.zeros(full, dtype=np.uint32)
        self.pulse_count = np.zeros(full, dtype=np.uint32)
        self.last_write_time = np.zeros(full, dtype=np.float32)   # seconds of simulated time
        self.step_scale = np.maximum(1.0 + spec.step_spread * rng.standard_normal(full), 0.05).astype(np.float32)
        self.endurance = np.exp(np.log(spec.endurance_median)
                                + spec.endurance_sigma * rng.standard_normal(full)).astype(np.float32)
        self.stuck = rng.random(full) < spec.stuck_fraction
        self._stick(self.stuck)

    # ----- state views --------------------------------------------------------------------
    @property
    def g_min_x(self) -> float:
        """g_min in normalised units (the conductance offset every read sees)."""
        return self.spec.g_min / self.spec.g_range

    def conductance(self) -> np.ndarray:
        """Conductance of every device in siemens, shape (2, rows, cols)."""
        return self.spec.g_min + self.x * self.spec.g_range

    def weight_fraction(self) -> np.ndarray:
        """x⁺ - x⁻ ∈ [-1, 1]: the stored weight in units of the weight bound."""
        return self.x[0] - self.x[1]

    def active_device(self) -> np.ndarray:
        """0 where the + device carries the weight, 1 where the − device does; shape (rows, cols)."""
        return (self.x[1] > self.x[0]).astype(np.intp)

    def read_normalised(self, flat: np.ndarray, reads: int = 1) -> np.ndarray:
        """Noisy normalised conductance of devices `flat`, averaged over `reads` reads."""
        x = self.x.flat[flat]
        sigma = self.spec.read_noise * (self.g_min_x + x) / np.sqrt(reads)
        return x + sigma * self.rng.standard_normal(x.shape) if self.spec.read_noise else x.copy()

    # ----- writes -------------------------------------------------------------------------
    def apply_pulses(self, flat: np.ndarray, n: np.ndarray, now: float) -> WriteOutcome:
        """Apply n signed pulses to devices `flat` (n > 0 potentiates) at simulated time `now` s.

        The result lands at the expected response plus cycle-to-cycle noise σ·√pulses, within
        the bounds. Stuck devices do not move but the pulses are still spent (the controller
        cannot tell). Each device written counts one cycle against its endurance.
        """
        keep = n != 0
        flat, n = flat[keep], n[keep]
        pulses = self.response.charged_pulses(n)
        live = ~self.stuck.flat[flat]
        target = self.response.after_pulses(self.x.flat[flat], n, self.step_scale.flat[flat])
        noise = self.spec.write_noise * np.sqrt(pulses) * self.rng.standard_normal(n.shape)
        new_x = np.clip(target + noise, 0.0, 1.0)
        self.x.flat[flat[live]] = new_x[live]
        self._count_wear(flat, pulses, now)
        return WriteOutcome(flat, pulses, n > 0)

    def _count_wear(self, flat: np.ndarray, pulses: np.ndarray, now: float) -> None:
        self.write_count.flat[flat] += np.uint32(1)
        self.pulse_count.flat[flat] += pulses.astype(np.uint32)
        self.last_write_time.flat[flat] = now
        worn = (self.write_count.flat[flat] >= self.endurance.flat[flat]) & ~self.stuck.flat[flat]
        if worn.any():
            mask = np.zeros(self.x.shape, dtype=bool)
            mask.flat[flat[worn]] = True
            self._stick(mask)

    def _stick(self, mask: np.ndarray) -> None:
        """Freeze the devices in `mask` at g_min or g_max (equally likely)."""
        self.stuck |= mask
        count = int(mask.sum())
        if count:
            self.x[mask] = (self.rng.random(count) < 0.5).astype(float)

    def set_exact(self, weight_fraction: np.ndarray) -> None:
        """Place weights without noise, cost or wear (reference runs and tests only)."""
        stuck_x = self.x[self.stuck]
        self.x[0] = np.clip(weight_fraction, 0.0, 1.0)
        self.x[1] = np.clip(-weight_fraction, 0.0, 1.0)
        self.x[self.stuck] = stuck_x

    # ----- lifetime -----------------------------------------------------------------------
    def wear_fraction(self) -> np.ndarray:
        """Cycles used / endurance, per device."""
        return self.write_count / self.endurance
