"""The inner loop of an analog MVM: bit-slice planes, read noise, ADC conversion and shift-add.

One tile-row block of one input phase is computed slice by slice and in chunks of `CHUNK`
vectors, so every buffer is small (a chunk's digit plane is CHUNK x rows float32) and nothing
GB-sized is ever built. Per chunk and slice:

  1. `digit_plane`: digit d = (code >> shift) & mask of every input (small unsigned integer codes,
     never int64/float64), written as float32 rows of a compact plane that keeps only the vectors
     with at least one non-zero digit in the block, and Σ d² per row (the drive, for the energy);
  2. one float32 BLAS product plane @ [W | σ²] gives each column's current and read-noise
     variance (1-bit digits: d² = d, so one product serves both);
  3. `adc_accumulate`: current + σ·z (z standard normal, drawn by the caller's numpy Generator
     for exactly the active vectors), ADC code k = clip(rint(current / lsb), k_min, k_max),
     acc += base^slice · k.

Skipping the vectors whose digit plane is all zero in the block is exact: their column current and
read-noise σ are both zero, so every conversion reads 0 (no ADC offset is modelled; a model that
adds one must convert them too). Integer ADC codes shift-added in float32 are exact below 2^24.

`adc_accumulate` and `digit_plane` are compiled with numba when it can be imported (USE_NUMBA,
environment COSIM_NUMBA=0 turns it off); the numpy versions compute the same values from the
same draws, so both paths give the same result (tests/test_speed.py).
"""
from __future__ import annotations

import os

import numpy as np

CHUNK = 2048   # vectors per chunk: fixed, since the order of the noise draws follows it

try:
    if os.environ.get("COSIM_NUMBA", "1") == "0":
        raise ImportError("disabled by COSIM_NUMBA=0")
    import numba
    USE_NUMBA = True
except ImportError:   # numba missing or its JIT unusable here: the numpy path below
    numba = None
    USE_NUMBA = False


def code_dtype(bits: int):
    """Smallest unsigned integer type that holds input codes of `bits` bits."""
    return np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32


def quantise(x: np.ndarray, factor: float, bits: int) -> np.ndarray:
    """Input codes rint(max(x, 0) · factor) as unsigned integers of `bits` bits (x ≥ 0 phase)."""
    code = np.multiply(np.maximum(x, 0.0), factor)
    return np.rint(code, out=code).astype(code_dtype(bits))


# ----- numpy versions ---------------------------------------------------------------------------
def _digit_plane_np(codes, shift, mask, plane, drive, active):
    digits = (codes >> codes.dtype.type(shift)) & codes.dtype.type(mask)
    rows = np.flatnonzero(digits.any(axis=1))
    n = rows.size
    plane[:n] = digits[rows]
    active[:n] = rows
    drive += (digits.sum(axis=0, dtype=np.float64) if mask == 1
              else np.square(digits, dtype=np.float64).sum(axis=0))
    return n


def _adc_accumulate_np(current, variance, noise, active, lsb, params, acc):
    k_min, k_max, weight = params
    if variance.shape[0]:
        current = current + np.sqrt(variance) * noise
    clipped = 0
    if lsb.shape[0]:
        codes = np.rint(current / lsb)
        clipped = int(np.count_nonzero((codes < k_min) | (codes > k_max)))
        current = np.minimum(np.maximum(codes, k_min), k_max)
    acc[active] += weight * current
    return clipped


# ----- numba versions ---------------------------------------------------------------------------
def _digit_plane_py(codes, shift, mask, plane, drive, active):
    n = 0
    for i in range(codes.shape[0]):
        nonzero = False
        for r in range(codes.shape[1]):
            d = (codes[i, r] >> shift) & mask
            plane[n, r] = d
            drive[r] += d * d
            nonzero = nonzero or d != 0
        if nonzero:
            active[n] = i
            n += 1
    return n


def _adc_accumulate_py(current, variance, noise, active, lsb, params, acc):
    k_min, k_max, weight = params[0], params[1], params[2]
    noisy, quantised = variance.shape[0] > 0, lsb.shape[0] > 0
    clipped = 0
    for j in range(current.shape[0]):
        i = active[j]
        for c in range(current.shape[1]):
            value = current[j, c]
            if noisy:
                value = value + np.sqrt(variance[j, c]) * noise[j, c]
            if quantised:
                value = np.rint(value / lsb[c])
                if value < k_min:
                    value, clipped = k_min, clipped + 1
                elif value > k_max:
                    value, clipped = k_max, clipped + 1
            acc[i, c] += weight * value
    return clipped


if USE_NUMBA:
    _digit_plane = numba.njit(cache=True, nogil=True)(_digit_plane_py)
    _adc_accumulate = numba.njit(cache=True, nogil=True)(_adc_accumulate_py)
else:
    _digit_plane, _adc_accumulate = _digit_plane_np, _adc_accumulate_np


def digit_plane(codes, shift: int, mask: int, plane, drive, active, use_numba: bool | None = None) -> int:
    """Write digits (codes >> shift) & mask of the vectors with any non-zero digit into
    plane[:n] (float32) and their indices into active[:n]; add Σ digit² per row to drive
    (float64); return n."""
    fn = _digit_plane if (USE_NUMBA if use_numba is None else use_numba) else _digit_plane_np
    return fn(codes, shift, mask, plane, drive, active)


def adc_accumulate(current, variance, noise, active, lsb, k_min: float, k_max: float,
                   weight: float, acc, use_numba: bool | None = None) -> int:
    """acc[active] += weight · ADC(current + sqrt(variance) · noise) for each active vector and
    column; returns the number of clipped conversions.

    current, variance, noise: (n, columns) float arrays (variance/noise with 0 rows: noiseless);
    lsb: (columns,) ADC step per column in current units (0 entries: an ideal ADC, no rounding or
    clipping), k_min/k_max: the lowest/highest ADC code; weight: the slice's digit significance.
    """
    fn = _adc_accumulate if (USE_NUMBA if use_numba is None else use_numba) else _adc_accumulate_np
    params = np.array([k_min, k_max, weight], dtype=acc.dtype)   # in the accumulator's precision
    return fn(current, variance, noise, active, lsb, params, acc)
