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

from cosim.devices.behaviours import make_behaviour
from cosim.devices.response import active_of_pair
from cosim.jit import jit
from cosim.specs.hardware import DeviceSpec


def flat_view(a: np.ndarray):
    """`a` indexed by flat position: a 1-D view when it is contiguous (fancy indexing through a
    view is ~3x faster than through `a.flat`, the hot path of every write), else `a.flat`."""
    return a.reshape(-1) if a.flags.c_contiguous else a.flat


def _apply_relaxation_np(x, devices, lr, z, g_min_x, nu, shift, sigma):
    """Moves the flat `devices` of x by their relaxation over log-time ratios `lr` (float32):
    the drift factor exp(-ν·lr) on the conductance, the mean shift·lr and the spread
    σ·√lr·z (z: standard normals, empty when σ = 0), clipped to [0, 1]."""
    g = flat_view(x)[devices] + g_min_x
    if nu:                           # exp(-0) = 1 exactly: skipped without drift
        g *= np.exp(-nu * lr)
    g -= g_min_x
    g += shift * lr
    if sigma:
        g += sigma * np.sqrt(lr) * z
    flat_view(x)[devices] = np.clip(g, 0.0, 1.0)


def _apply_relaxation_py(x, devices, lr, z, g_min_x, shift, sigma):
    """_apply_relaxation_np without drift, one device at a time, in its operations and precisions
    (a Python float times float32 lr is a float32 product, as in numpy; np.clip's maximum and
    minimum keep their first argument on ties), so the values are the same to the bit."""
    shift32, sigma32 = np.float32(shift), np.float32(sigma)
    for k in range(devices.size):
        g = x[devices[k]] + g_min_x
        g -= g_min_x
        g += np.float64(shift32 * lr[k])
        if sigma:
            g += np.float64(sigma32 * np.sqrt(lr[k])) * z[k]
        x[devices[k]] = _clip_unit_nb(g)


def _clip_unit(g):
    """np.clip(g, 0.0, 1.0) of one float as numpy computes it: np.maximum and np.minimum keep
    their first argument on ties and NaN."""
    g = g if g >= 0.0 or g != g else 0.0
    return g if g <= 1.0 or g != g else 1.0


_clip_unit_nb = jit(_clip_unit)
_apply_relaxation_nb = jit(_apply_relaxation_py)


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


NEVER = np.nan   # last_write_time of a device not written on this chip


class DeviceArray:
    """All devices of one weight matrix; every operation is vectorised over the cells it touches."""

    def __init__(self, spec: DeviceSpec, shape: tuple[int, int], rng: np.random.Generator):
        self.spec, self.shape, self.rng = spec, tuple(shape), rng
        full = (2, *shape)
        self.behaviour = make_behaviour(spec)
        self.response = self.behaviour.response
        # 33 bytes per device: the conductance and the time of its last write (drift ages are
        # differences of times) stay float64; counts and drawn per-device constants are 32-bit.
        self.x = np.zeros(full)                     # normalised conductance, fresh devices at g_min
        self.write_count = np.zeros(full, dtype=np.uint32)
        self.pulse_count = np.zeros(full, dtype=np.uint32)
        # seconds of simulated time; float32 (~1e-7 relative) is ample for drift clocks of >= 1 s
        # and keeps the state at <= 32 bytes per device (benchmarks/scaling.py). NaN (NEVER) for a
        # device not yet written on this chip: it sits in the reset state it was prepared in
        # long before training, so it has no relaxation clock running (see advance_to).
        self.last_write_time = np.full(full, NEVER, dtype=np.float32)
        self.clock = 0.0                            # simulated time the state is current at, s
        self.step_scale = np.zeros(full, dtype=np.float32)
        self.endurance = np.zeros(full, dtype=np.float32)
        self.stuck = np.zeros(full, dtype=bool)
        self._fresh(np.ones(full, dtype=bool))
        self.stuck_at_start = int(self.stuck.sum())

    def _fresh(self, mask: np.ndarray) -> None:
        """Draw new devices at `mask`: step spread, lognormal endurance, stuck-at-start."""
        spec, rng, count = self.spec, self.rng, int(mask.sum())
        self.x[mask] = 0.0
        self.last_write_time[mask] = NEVER
        self.step_scale[mask] = np.maximum(1.0 + spec.step_spread * rng.standard_normal(count), 0.05)
        self.endurance[mask] = np.exp(np.log(spec.endurance_median) + spec.endurance_sigma * rng.standard_normal(count))
        self.stuck[mask] = False
        stuck = np.zeros_like(mask)
        stuck[mask] = rng.random(count) < spec.stuck_fraction
        self._stick(stuck)

    def remap_stuck_columns(self, spares_per_tile: int, tile_cols: int) -> int:
        """Replace, per tile column block, up to `spares_per_tile` columns holding stuck devices
        (most stuck first) by fresh spare columns; returns the number remapped."""
        if spares_per_tile <= 0:
            return 0
        stuck_per_col = self.stuck.sum(axis=(0, 1))
        mask = np.zeros(self.x.shape, dtype=bool)
        for start in range(0, self.shape[1], tile_cols):
            block = stuck_per_col[start:start + tile_cols]
            worst = np.argsort(-block, kind="stable")[:spares_per_tile]
            mask[:, :, start + worst[block[worst] > 0]] = True
        self._fresh(mask)
        self.stuck_at_start = int(self.stuck.sum())
        return int(mask[0, 0].sum())

    # ----- state views --------------------------------------------------------------------
    @property
    def g_min_x(self) -> float:
        """g_min in normalised units (the conductance offset every read sees)."""
        return self.spec.g_min / self.spec.g_range

    def conductance(self) -> np.ndarray:
        """Conductance of every device in siemens, shape (2, rows, cols)."""
        return self.spec.g_min + self.x * self.spec.g_range

    def conductance_of(self, devices: np.ndarray) -> np.ndarray:
        """Conductance (S) of the devices at flat indices `devices` (conductance() at them)."""
        return self.spec.g_min + flat_view(self.x)[devices] * self.spec.g_range

    def weight_fraction(self) -> np.ndarray:
        """x⁺ - x⁻ ∈ [-1, 1]: the stored weight in units of the weight bound."""
        return self.x[0] - self.x[1]

    def active_device(self) -> np.ndarray:
        """0 where the + device carries the weight, 1 where the − device does; shape (rows, cols)."""
        return (self.x[1] > self.x[0]).astype(np.intp)

    # ----- time: drift and relaxation, applied lazily when the array is touched -------------
    def advance_to(self, now: float) -> None:
        """Bring every device to simulated time `now` (s): since its last write a device drifts
        as G ∝ (t/t0)^-ν and relaxes by a mean shift and a spread growing with ln(t/t0).
        Increments compose exactly, so the result does not depend on how often it is called.
        A device never written on this chip (last_write_time NEVER, e.g. the idle g_min device
        of a pair, or every device of a layer that starts at zero) does not move: relaxation is
        the settling of a state after its programming pulse (Wan 2022 measure it from 1 s after
        programming), and a device last reset when the chip was prepared, long before training,
        has ln(t/t_write) ≈ 0 over a run."""
        if now <= self.clock:
            return
        self._relax(self.x, now, self.rng)
        self.clock = now

    def peek(self, now: float, rng: np.random.Generator) -> np.ndarray:
        """The normalised conductances as they would be at `now`, drawn from `rng`, without
        changing the state: a measurement sees the devices relaxed to its time, while the state
        training continues from, and the device generator, stay as if nobody had looked."""
        x = self.x.copy()
        if now > self.clock:
            self._relax(x, now, rng)
        return x

    def _relax(self, x: np.ndarray, now: float, rng: np.random.Generator) -> None:
        """Drift and relax `x` (this array's state, or a copy) in place from self.clock to `now`."""
        if not self.spec.has_drift:
            return
        spec = self.spec
        if not self._any_past_t0(now):
            return
        movable, ratio = self._age_ratios(now)
        log_ratio = np.log(ratio)
        moving = log_ratio > 0
        if moving.any():
            devices, lr = movable[moving], log_ratio[moving]
            z = rng.standard_normal(lr.shape) if spec.relaxation_sigma else np.empty(0)
            # Compiled: one pass instead of ten array passes (same values; without drift, whose
            # exp numpy and numba round differently, and for the float32 log-ratios it mirrors).
            compiled = (_apply_relaxation_nb is not None and not spec.drift_nu and lr.dtype == np.float32
                        and x.flags.c_contiguous)
            if compiled:
                _apply_relaxation_nb(x.reshape(-1), devices, lr, z, self.g_min_x, spec.relaxation_shift,
                                     spec.relaxation_sigma)
            else:
                _apply_relaxation_np(x, devices, lr, z, self.g_min_x, spec.drift_nu, spec.relaxation_shift,
                                     spec.relaxation_sigma)

    def _age_ratios(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """(flat indices, age at `now` / age at self.clock) of the written, working devices (the
        only ones that can move), in flat order; ages max(t - last write, t0) in the write
        times' precision (float32), as _any_past_t0 takes them."""
        dtype = self.last_write_time.dtype.type
        clock, now, t0 = dtype(self.clock), dtype(now), dtype(self.spec.drift_t0)
        movable = np.flatnonzero(~(np.isnan(self.last_write_time) | self.stuck))
        since = flat_view(self.last_write_time)[movable]
        return movable, np.maximum(now - since, t0) / np.maximum(clock - since, t0)

    def _any_past_t0(self, now: float) -> bool:
        """Whether some written device is more than drift_t0 past its last write at `now` (s).
        If none is, every age below is max(now - since, t0) = t0 and nothing moves: the check
        spares the whole-array pass on every read of a run shorter than t0 (write times and
        the subtraction in the array's own precision, as below, so the answer is exact)."""
        oldest = np.fmin.reduce(self.last_write_time, axis=None, initial=np.nan)   # NaN: none written
        return bool(now - oldest > self.spec.drift_t0)

    @property
    def nominal_write_sigma(self) -> float:
        """σ of one fresh write, normalised: the cycle noise, or one code step on binary cells."""
        return self.spec.write_noise if self.spec.model != "binary_sliced" else 1.0 / self.response.levels

    def write_sigma(self, now: float) -> np.ndarray:
        """σ a write lands with (normalised), per weight cell (its active device), at `now`:
        one pulse's noise grown by the relaxation spread accumulated since the last write."""
        spec, base = self.spec, self.nominal_write_sigma
        if not spec.relaxation_sigma:
            return np.full(self.shape, base)
        # a never-written device has accumulated no relaxation spread (see advance_to)
        age = np.maximum(np.nan_to_num(now - self.last_write_time, nan=0.0), spec.drift_t0)
        sigma = np.sqrt(base ** 2 + spec.relaxation_sigma ** 2 * np.log(age / spec.drift_t0))
        return np.take_along_axis(sigma, self.active_device()[None], axis=0)[0]

    def expected_weight_change(self, cells: np.ndarray | None, n: np.ndarray) -> np.ndarray:
        """Expected change of x⁺ - x⁻ when weight cells `cells` (flat into (rows, cols); None:
        all, in order) get n signed pulses (n > 0 raises the weight) on their active device, on
        a nominal device (step scale 1: the controller does not know each device's spread). A
        change that would take the active device below g_min stops there (the zero crossing)."""
        x_plus, x_minus = self.x[0].ravel(), self.x[1].ravel()      # views: x is contiguous
        if cells is not None:
            x_plus, x_minus = x_plus[cells], x_minus[cells]
        closed_form = getattr(self.response, "pair_change", None)   # a pulse-curve family
        if closed_form is not None and np.ndim(n) == 1:
            return closed_form(x_plus, x_minus, n)
        on_minus, active, device_n = active_of_pair(x_plus, x_minus, n)
        moved = self.response.after_pulses(active, device_n.astype(float), np.ones(active.shape))
        change = moved - active
        return np.where(on_minus, -change, change)

    def read_normalised(self, flat: np.ndarray, reads: int = 1) -> np.ndarray:
        """Noisy normalised conductance of devices `flat`, averaged over `reads` reads."""
        x = flat_view(self.x)[flat]
        sigma = self.spec.read_noise * (self.g_min_x + x) / np.sqrt(reads)
        return x + sigma * self.rng.standard_normal(x.shape) if self.spec.read_noise else x.copy()

    # ----- writes -------------------------------------------------------------------------
    def apply_pulses(self, flat: np.ndarray, n: np.ndarray, now: float) -> WriteOutcome:
        """Apply n signed pulses to devices `flat` (n > 0 potentiates) at simulated time `now` s.

        The result lands at the expected response plus cycle-to-cycle noise σ·√pulses, within
        the bounds. Stuck devices do not move but the pulses are still spent (the controller
        cannot tell). Each device written counts one cycle against its endurance.
        """
        self.advance_to(now)
        keep = n != 0
        flat, n = flat[keep], n[keep]
        live = ~flat_view(self.stuck)[flat]
        new_x, pulses = self.behaviour.land(flat_view(self.x)[flat], n, flat_view(self.step_scale)[flat], self.rng)
        flat_view(self.x)[flat[live]] = new_x[live]
        self._count_wear(flat, pulses, now)
        return WriteOutcome(flat, pulses, n > 0)

    def _count_wear(self, flat: np.ndarray, pulses: np.ndarray, now: float) -> None:
        flat_view(self.write_count)[flat] += np.uint32(1)
        flat_view(self.pulse_count)[flat] += pulses.astype(np.uint32)
        flat_view(self.last_write_time)[flat] = now
        worn = (flat_view(self.wear_count())[flat] >= flat_view(self.endurance)[flat]) & ~flat_view(self.stuck)[flat]
        self.stick_worn(flat[worn])

    def stick_worn(self, flat: np.ndarray) -> None:
        """Devices `flat` (flat indices) reached their endurance: they stick (see _stick)."""
        if flat.size:
            mask = np.zeros(self.x.shape, dtype=bool)
            mask.reshape(-1)[flat] = True
            self._stick(mask)

    def _stick(self, mask: np.ndarray) -> None:
        """Freeze the devices in `mask` at g_min or g_max (equally likely)."""
        self.stuck |= mask
        count = int(mask.sum())
        if count:
            self.x[mask] = (self.rng.random(count) < 0.5).astype(float)

    def set_exact(self, weight_fraction: np.ndarray) -> None:
        """Place weights without noise, cost or wear (reference runs and tests only); a device
        moved off g_min counts as written now (its relaxation clock starts)."""
        stuck_x = self.x[self.stuck]
        self.x[0] = np.clip(weight_fraction, 0.0, 1.0)
        self.x[1] = np.clip(-weight_fraction, 0.0, 1.0)
        self.x[self.stuck] = stuck_x
        self.last_write_time[(self.x > 0) & ~self.stuck] = self.clock

    # ----- lifetime -----------------------------------------------------------------------
    def wear_count(self) -> np.ndarray:
        """What endurance counts, per device: write cycles or pulses (device.endurance_unit)."""
        return self.pulse_count if self.spec.endurance_unit == "pulses" else self.write_count

    def wear_fraction(self) -> np.ndarray:
        """Wear used / endurance, per device."""
        return self.wear_count() / self.endurance
