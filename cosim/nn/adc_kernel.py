"""The inner loop of an analog MVM: bit-slice planes, read noise, ADC conversion and shift-add.

One tile-row block of one input phase is computed in chunks of vectors whose digit planes for
all slices together have PLANE_ROWS rows (float32), so every buffer is small and nothing GB-sized
is ever built. Per chunk:

  1. `digit_planes`: digit d = (code >> shift) & mask of every input and slice (small unsigned
     integer codes, never int64/float64), written as float32 rows of a compact plane that keeps
     only the (vector, slice) pairs with at least one non-zero digit in the block, and Σ d² per
     row (the drive, for the energy);
  2. one float32 BLAS product plane @ [W | σ²] gives each column's current and read-noise
     variance (1-bit digits: d² = d, so one product serves both);
  3. `adc_accumulate`: current + σ·z, ADC code k = clip(rint(current / lsb), k_min, k_max),
     acc += base^slice · k; z is the counter-based standard normal of cosim.nn.noise, indexed by
     (slice, vector, column) under a key the caller draws from its seeded Generator, and drawn
     inside the same loop (no noise array).

Skipping the vectors whose digit plane is all zero in the block is exact: their column current and
read-noise σ are both zero, so every conversion reads 0 (no ADC offset is modelled; a model that
adds one must convert them too). Integer ADC codes shift-added in float32 are exact below 2^24.

`quantise`, `digit_plane` and `adc_accumulate` are compiled with numba when it can be imported
(cosim.nn.jit; USE_NUMBA here, COSIM_NUMBA=0 in the environment turns it off); the numpy
versions compute the same values from the same draws (tests/test_speed.py), many times slower.
"""
from __future__ import annotations

import numpy as np

from cosim.nn import noise
from cosim.nn.jit import jit, numba as jit_numba

PLANE_ROWS = 4096   # rows (vector x slice) of a chunk's digit planes: sized to cache; results do not depend on it

USE_NUMBA = jit_numba is not None   # the switch the wrappers below consult (tests flip it)


def code_dtype(bits: int):
    """Smallest unsigned integer type that holds input codes of `bits` bits."""
    return np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32


def quantise(x: np.ndarray, factor: float, bits: int, use_numba: bool | None = None) -> np.ndarray:
    """Input codes rint(max(x · factor, 0)) of a 2-D x as unsigned integers of `bits` bits
    (factor < 0 gives the negative phase)."""
    out = np.empty(x.shape, dtype=code_dtype(bits))
    if USE_NUMBA if use_numba is None else use_numba:
        _quantise_nb(x, float(factor), out)
    else:
        code = np.maximum(x * factor, 0.0)
        np.rint(code, out=code)
        out[...] = code
    return out


def _quantise_py(x, factor, out):
    for i in range(x.shape[0]):
        for r in range(x.shape[1]):
            out[i, r] = np.rint(max(x[i, r] * factor, 0.0))


# ----- numpy versions ---------------------------------------------------------------------------
def _digit_planes_np(codes, bits, slices, mask, plane, drive, vec, slc):
    n = 0
    for s in range(slices):
        digits = (codes >> codes.dtype.type(s * bits)) & codes.dtype.type(mask)
        rows = np.flatnonzero(digits.any(axis=1))
        plane[n:n + rows.size] = digits[rows]
        vec[n:n + rows.size], slc[n:n + rows.size] = rows, s
        n += rows.size
        drive += (digits.sum(axis=0, dtype=np.float64) if mask == 1
                  else np.square(digits, dtype=np.float64).sum(axis=0))
    return n


def _adc_accumulate_np(current, variance, var_col, key, n_all, start, vec, slc, lsb, bounds, weights, acc, row, scratch):
    k_min, k_max = bounds
    cols = acc.shape[1]
    current = current[:, :cols]
    if variance.shape[0]:
        variance = variance[:, var_col:var_col + cols]
        first = (slc.astype(np.uint64) * np.uint64(n_all) + np.uint64(start) + vec.astype(np.uint64)) * np.uint64(cols)
        counters = first[:, None] + np.arange(cols, dtype=np.uint64)
        current = current + np.sqrt(variance) * noise.normals(key, counters).astype(acc.dtype)
    clipped = 0
    if lsb.shape[0]:
        codes = np.rint(current / lsb)
        clipped = int(np.count_nonzero((codes < k_min) | (codes > k_max)))
        current = np.minimum(np.maximum(codes, k_min), k_max)
    np.add.at(acc, vec, weights[slc][:, None] * current)    # a vector recurs once per slice
    return clipped


# ----- numba versions ---------------------------------------------------------------------------
def _digit_planes_py(codes, bits, slices, mask, plane, drive, vec, slc):
    n = 0
    for s in range(slices):
        shift = s * bits
        for i in range(codes.shape[0]):
            seen = 0
            for r in range(codes.shape[1]):
                d = (codes[i, r] >> shift) & mask
                plane[n, r] = d
                drive[r] += d * d
                seen |= d
            if seen:            # otherwise row n is overwritten by the next vector
                vec[n], slc[n] = i, s
                n += 1
    return n


def _adc_accumulate_py(current, variance, var_col, key, n_all, start, vec, slc, lsb, bounds, weights, acc, row, scratch):
    k_min, k_max = bounds[0], bounds[1]
    noisy, quantised = variance.shape[0] > 0, lsb.shape[0] > 0
    cols = acc.shape[1]
    clipped = 0
    for j in range(current.shape[0]):      # branch-free inner loops over columns (SIMD)
        out, value, weight = acc[vec[j]], current[j, :cols], weights[slc[j]]
        if noisy:
            first = (np.uint64(slc[j]) * np.uint64(n_all) + np.uint64(start) + np.uint64(vec[j])) * np.uint64(cols)
            _fill_normals(key, first, row, scratch)
            var = variance[j, var_col:var_col + cols]
            for c in range(cols):
                row[c] = value[c] + np.sqrt(var[c]) * row[c]
        else:
            for c in range(cols):
                row[c] = value[c]
        if quantised:
            for c in range(cols):
                code = np.rint(row[c] / lsb[c])
                clipped += (code < k_min) | (code > k_max)
                out[c] += weight * min(max(code, k_min), k_max)
        else:
            for c in range(cols):
                out[c] += weight * row[c]
    return clipped


_fill_normals = noise.fill_normals_jit        # numba resolves it when compiling the kernel
_digit_planes = jit(_digit_planes_py) or _digit_planes_np
_adc_accumulate = jit(_adc_accumulate_py) or _adc_accumulate_np
_quantise_nb = jit(_quantise_py)


def digit_planes(codes, bits: int, slices: int, plane, drive, vec, slc, use_numba: bool | None = None) -> int:
    """For each slice s < `slices` and vector i of `codes` (N, rows) whose digits
    (codes >> s·bits) & (2^bits - 1) are not all zero, one row of plane[:n] (float32) holding
    them, with vec[k] = i and slc[k] = s; adds Σ digit² per row to drive (float64); returns n.
    plane, vec and slc need slices · N rows."""
    fn = _digit_planes if (USE_NUMBA if use_numba is None else use_numba) else _digit_planes_np
    return fn(codes, bits, slices, 2 ** bits - 1, plane, drive, vec, slc)


def adc_accumulate(current, variance, key, n_all: int, start: int, vec, slc, lsb, k_min: float,
                   k_max: float, slice_weights, acc, var_col: int = 0, use_numba: bool | None = None) -> int:
    """acc[vec[j]] += slice_weights[slc[j]] · ADC(current[j] + sqrt(variance[j]) · z) for each
    row j (a vector of a slice) and column; returns the number of clipped conversions. z is the
    standard normal noise.normal_at(key, ((slice · n_all + start + vector) · columns + column)),
    so the draws depend neither on chunking nor on which vectors are skipped (`start`: the
    chunk's first vector among the `n_all` of the product).

    current: (n, >= columns) float array, its first `columns` (acc's) columns; variance: (n, >=
    var_col + columns), its columns from `var_col` (0 rows: noiseless); they may be one array
    (one product [current | variance]). Column windows come as whole arrays and an offset, not as
    views: the compiled loops vectorise over C-contiguous rows (a strided view ran 1.5x slower);
    a non-contiguous argument is copied.
    lsb: (columns,) ADC step per column in current units (empty: an ideal ADC, no rounding or
    clipping), k_min/k_max: the lowest/highest ADC code; slice_weights: each slice's digit
    significance.
    """
    fn = _adc_accumulate if (USE_NUMBA if use_numba is None else use_numba) else _adc_accumulate_np
    bounds = np.array([k_min, k_max], dtype=acc.dtype)             # in the accumulator's precision
    weights = np.asarray(slice_weights, dtype=acc.dtype)
    row = np.empty(acc.shape[1], dtype=acc.dtype)                 # one vector's noise draws
    scratch = np.empty(acc.shape[1], dtype=np.bool_)
    return fn(np.ascontiguousarray(current), np.ascontiguousarray(variance), var_col, np.uint64(key), n_all, start,
              vec, slc, lsb, bounds, weights, acc, row, scratch)
