"""Pulse response of one device family: where n pulses take a device, in expectation.

Conductance is handled in normalised units x = (G - g_min) / (g_max - g_min) ∈ [0, 1].
Potentiation follows the NeuroSim-style exponential curve
    x(p) = (1 - exp(-ν p / P)) / (1 - exp(-ν)),   p ∈ [0, P] pulses,  P = levels,
so steps shrink towards g_max for ν > 0 and are uniform for ν = 0; depression mirrors it from
g_max with its own ν. Moving n pulses is a shift along p, so it is closed-form and vectorised.

Rounding a wanted change to a pulse count (`round_pulses`, chosen per chip by `device.rounding`):
  nearest       the nearest integer count, so a change below half a step writes nothing
                (NeuroSim MLP V3.0 `RealDevice::Write`: `truncate(Δw, levels)` rounds with
                threshold 0.5, and cycle noise is added only when the count is nonzero);
  stochastic    ⌊|n|⌋ + Bernoulli(frac |n|): unbiased in expectation (aihwkit's stochastic
                pulse trains are the same idea at the pulse level);
  at_least_one  the nearest count but at least one pulse for any nonzero want (cosim's old
                behaviour; makes small-update backprop a Manhattan rule in disguise).
"""
from __future__ import annotations

import numpy as np

from cosim.jit import jit

# A continuous device (levels = null) is modelled with this many "pulses" per range: fine
# enough that rounding is invisible next to any write noise, while pulse counts stay finite.
CONTINUOUS_LEVELS = 2 ** 20
ROUNDINGS = ("nearest", "stochastic", "at_least_one")


def round_pulses(exact: np.ndarray, rounding: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """Signed integer pulse counts for signed fractional counts `exact` (see module docstring)."""
    magnitude = np.abs(exact)
    if rounding == "nearest":
        whole = np.floor(magnitude + 0.5)
    elif rounding == "stochastic":
        if rng is None:
            raise ValueError("stochastic pulse rounding needs a random generator")
        whole = np.floor(magnitude)
        whole += rng.random(np.shape(exact)) < magnitude - whole
    elif rounding == "at_least_one":
        whole = np.where(magnitude > 0, np.maximum(np.floor(magnitude + 0.5), 1.0), 0.0)
    else:
        raise ValueError(f"unknown pulse rounding {rounding!r}; known: {', '.join(ROUNDINGS)}")
    return np.sign(exact) * whole


def active_of_pair(x_plus: np.ndarray, x_minus: np.ndarray, change: np.ndarray):
    """Sign-magnitude pairs: whether the − device carries each weight (it is the larger, or the
    pair is equal and `change` lowers the weight), that device's x, and `change` as it sees it
    (raising w depresses an active − device)."""
    on_minus = (x_minus > x_plus) | ((x_minus == x_plus) & (change < 0))
    return on_minus, np.where(on_minus, x_minus, x_plus), np.where(on_minus, -change, change)


class PulseResponse:
    def __init__(self, levels: int | None, nonlinearity_up: float, nonlinearity_down: float,
                 rounding: str = "nearest"):
        self.levels = float(levels or CONTINUOUS_LEVELS)
        self.rounding = rounding
        self.continuous = levels is None
        self.nu_up, self.nu_down = nonlinearity_up, nonlinearity_down

    def _x_of_p(self, p: np.ndarray, nu: float) -> np.ndarray:
        if nu == 0.0:
            return p / self.levels
        return -np.expm1(-nu * p / self.levels) / -np.expm1(-nu)

    def _p_of_x(self, x: np.ndarray, nu: float) -> np.ndarray:
        if nu == 0.0:
            return x * self.levels
        return -self.levels / nu * np.log1p(x * np.expm1(-nu))

    def after_pulses(self, x: np.ndarray, n: np.ndarray, step_scale: np.ndarray) -> np.ndarray:
        """Expected normalised conductance after n signed pulses (n > 0 potentiates).

        `step_scale` is each device's relative step size (device-to-device spread). Compiled
        (one pass, no masked temporaries) when numba is available; the same values either way to
        the last bit or two (numpy's SIMD log1p/expm1 and libm's can differ by an ULP).
        """
        if _after_pulses_nb is not None and np.ndim(x) == 1:
            return _after_pulses_nb(np.asarray(x, dtype=np.float64), np.asarray(n, dtype=np.float64),
                                    np.asarray(step_scale), float(self.nu_up), float(self.nu_down),
                                    self.levels, np.empty(np.shape(x)))
        return self._after_pulses_np(x, n, step_scale)

    def pair_change(self, x_plus: np.ndarray, x_minus: np.ndarray, n: np.ndarray) -> np.ndarray:
        """DeviceArray.expected_weight_change from the pair's gathered states (1-D): the change
        of x⁺ - x⁻ when n signed pulses go to the active device of a nominal device (step scale
        1). In closed form: on the curve x(p) a shift by s pulses moves x by
        (1 - x·E)·(1 - exp(-ν s/P)) / E with E = 1 - exp(-ν), up to saturation (one expm1 per
        distinct |n|, none per device), the change after_pulses makes to a few ULP; compiled
        when numba is available."""
        n = np.asarray(n, dtype=np.float64)
        if _pair_change_nb is None:
            return _pair_change_np(x_plus, x_minus, n, float(self.nu_up), float(self.nu_down), self.levels)
        return _pair_change_nb(x_plus, x_minus, n, float(self.nu_up), float(self.nu_down), self.levels,
                               np.empty(x_plus.shape))

    def _after_pulses_np(self, x: np.ndarray, n: np.ndarray, step_scale: np.ndarray) -> np.ndarray:
        x = np.clip(x, 0.0, 1.0)
        up = n > 0
        moved = np.empty_like(x)
        shift = np.abs(n) * step_scale
        p_up = self._p_of_x(x[up], self.nu_up) + shift[up]
        moved[up] = self._x_of_p(np.minimum(p_up, self.levels), self.nu_up)
        down = ~up
        p_down = self._p_of_x(1.0 - x[down], self.nu_down) + shift[down]
        moved[down] = 1.0 - self._x_of_p(np.minimum(p_down, self.levels), self.nu_down)
        return moved

    def pulses_for(self, delta_x: np.ndarray, rng: np.random.Generator | None = None,
                   rounding: str | None = None) -> np.ndarray:
        """Signed pulse count a controller issues for a wanted change (normalised units), assuming
        a nominal linear device (it does not know each cell's position on the curve), rounded by
        `rounding` (default: the chip's convention; see round_pulses)."""
        exact = delta_x * self.levels
        if self.continuous:
            return exact
        return round_pulses(exact, rounding or self.rounding, rng)

    def limit(self, n: np.ndarray, max_pulses: int) -> np.ndarray:
        """Cap a pulse train at `max_pulses` (a continuous device moves in one event)."""
        return n if self.continuous else np.clip(n, -max_pulses, max_pulses)

    def charged_pulses(self, n: np.ndarray) -> np.ndarray:
        """Physical pulses a signed count stands for: |n|, or one programming event per nonzero
        write on a continuous device (whose `n` is a fractional position shift)."""
        return (n != 0).astype(float) if self.continuous else np.abs(n)


# ----- compiled forms: the same arithmetic, element by element, in the same order --------------
def _after_one(x, n, step_scale, nu_up, nu_down, levels, e_up, e_down):
    """after_pulses of one device (e_up, e_down: expm1(-ν) of each direction)."""
    x = min(max(x, 0.0), 1.0)
    shift = abs(n) * step_scale
    if n > 0:
        p = (x * levels if nu_up == 0.0 else -levels / nu_up * np.log1p(x * e_up)) + shift
        p = min(p, levels)
        return p / levels if nu_up == 0.0 else -np.expm1(-nu_up * p / levels) / -e_up
    q = 1.0 - x
    p = (q * levels if nu_down == 0.0 else -levels / nu_down * np.log1p(q * e_down)) + shift
    p = min(p, levels)
    return 1.0 - (p / levels if nu_down == 0.0 else -np.expm1(-nu_down * p / levels) / -e_down)


_after_one_nb = jit(_after_one)


def _after_pulses_py(x, n, step_scale, nu_up, nu_down, levels, out):
    """PulseResponse.after_pulses, one device at a time (no masked temporaries)."""
    e_up, e_down = np.expm1(-nu_up), np.expm1(-nu_down)
    for i in range(x.size):
        out[i] = _after_one_nb(x[i], n[i], np.float64(step_scale[i]), nu_up, nu_down, levels, e_up, e_down)
    return out


def _change_one(x, n, nu_up, nu_down, levels, e_up, e_down, d_up, d_down):
    """Expected change of one device's x after n signed pulses at step scale 1 (e: 1 - exp(-ν)
    of each direction, d: 1 - exp(-ν·|n|/P)); the linear curve as in _after_one. Both
    directions are computed and one is selected, so a loop over random signs has no branch to
    mispredict."""
    x = min(max(x, 0.0), 1.0)
    if nu_up == 0.0:
        up = min(x * levels + n, levels) / levels - x
    else:
        room = 1.0 - x * e_up                 # exp(-ν p/P) at the device's position p
        up = 1.0 - x if room * (1.0 - d_up) <= 1.0 - e_up else room * d_up / e_up
    q = 1.0 - x                               # depression mirrors it from g_max
    if nu_down == 0.0:
        down = 1.0 - min(q * levels - n, levels) / levels - x
    else:
        room = 1.0 - q * e_down
        down = -x if room * (1.0 - d_down) <= 1.0 - e_down else -room * d_down / e_down
    return up if n > 0 else down


_change_one_nb = jit(_change_one)


def _pair_change_py(x_plus, x_minus, n, nu_up, nu_down, levels, out):
    """PulseResponse.pair_change in two loops: d of each weight's |n| (recomputed only when a
    nonzero |n| changes; zero counts, common in sparse gradients, have their own), then each
    weight's change with selects only (its signs are random: branches on them mispredict)."""
    e_up, e_down = -np.expm1(-nu_up), -np.expm1(-nu_down)
    zero_up, zero_down = -np.expm1(-nu_up * 0.0 / levels), -np.expm1(-nu_down * 0.0 / levels)
    d_up, d_down = np.empty(n.size), np.empty(n.size)
    last, up, down = 0.0, zero_up, zero_down
    for i in range(n.size):
        size = abs(n[i])
        if (size != last) & (size != 0.0):
            last = size
            up, down = -np.expm1(-nu_up * size / levels), -np.expm1(-nu_down * size / levels)
        d_up[i] = zero_up if size == 0.0 else up
        d_down[i] = zero_down if size == 0.0 else down
    for i in range(n.size):
        on_minus = (x_minus[i] > x_plus[i]) | ((x_minus[i] == x_plus[i]) & (n[i] < 0))
        active = x_minus[i] if on_minus else x_plus[i]
        k = -n[i] if on_minus else n[i]       # raising w depresses an active − device
        change = _change_one_nb(active, k, nu_up, nu_down, levels, e_up, e_down, d_up[i], d_down[i])
        out[i] = -change if on_minus else change
    return out


def _pair_change_np(x_plus, x_minus, n, nu_up, nu_down, levels):
    """The numpy form of _pair_change_py (same formulas, whole arrays)."""
    on_minus, active, k = active_of_pair(x_plus, x_minus, n)
    x = np.clip(active, 0.0, 1.0)
    up = k > 0
    change = np.empty(x.shape)
    change[up] = _curve_change(x[up], k[up], nu_up, levels)
    change[~up] = -_curve_change(1.0 - x[~up], -k[~up], nu_down, levels)
    return np.where(on_minus, -change, change)


def _curve_change(x, s, nu, levels):
    """Change of a position x on the curve of exponent ν after s >= 0 pulses (vectorised)."""
    if nu == 0.0:
        return np.minimum(x * levels + s, levels) / levels - x
    e, d = -np.expm1(-nu), -np.expm1(-nu * s / levels)
    room = 1.0 - x * e
    return np.where(room * (1.0 - d) <= 1.0 - e, 1.0 - x, room * d / e)


_after_pulses_nb = jit(_after_pulses_py) if _after_one_nb is not None else None
_pair_change_nb = jit(_pair_change_py) if _change_one_nb is not None else None
