"""Aggregated bit-slice numerics (`hardware.mvm_numerics: auto`): one product per tile-row block
instead of one per input bit-slice, used only where a run-time check says it has the statistics
of the exact bit-serial model. Derivation, validity condition and measurements:
docs/analog_mvm_kernel.md ("Aggregated slices").

Exact model (cosim.nn.analog, cosim.nn.adc_kernel), per phase, block, vector and column: slice s
(digit d_s,r of input code c_r, significance B^s, B = 2^dac.bits) reads
    k_s = clip(rint((I_s + σ_s z_s) / q)),  I_s = Σ_r d_s,r w_r,  σ_s² = Σ_r d_s,r² σ_r²,
and the block's output is q Σ_s B^s k_s (q: the ADC step). Unclipped, q k_s = I_s + σ_s z_s + e_s
with e_s the rounding error. When the Gaussian read noise has σ_s ≥ q/2 it dithers the ADC: e_s is
then uniform on [-q/2, q/2], zero-mean and uncorrelated with the signal and the noise up to
terms ~exp(-2π²σ_s²/q²) ≤ 0.7 % (Widrow & Kollár, "Quantization Noise", Cambridge UP 2008,
ch. 19, non-subtractive dither). Then
    q Σ_s B^s k_s = Σ_r c_r w_r + ε,   E[ε] = 0,
    Var ε = Σ_r L(c_r) σ_r² + (q²/12) Σ_{s converted} B^2s,   L(c) = Σ_s B^2s d_s(c)²,
where a slice is converted when its digit plane is not all zero in the block (the exact kernel
skips the others: they read exactly 0). The aggregated product draws ε as one Gaussian of that
variance per output, so the mean and variance are those of the exact model; its shape is the
Gaussian's, where the exact error is Gaussian ⊛ uniform (excess kurtosis ≥ -0.075 at σ = q/2).

A product of fewer than MIN_VECTORS vectors runs exact (reason "small_product": checking it
would cost about what aggregating saves). The check (`check`) runs on every other product, on
SAMPLE_VECTORS vectors (evenly spaced) of
every phase and block: the exact per-slice currents and σ of those conversions with the ADC step
of this product. It fails (the product then runs exact) when the share of them below the
dither ratio, weighted by significance B^2s, exceeds DITHER_SHARE, or when any sampled
conversion comes within CLIP_SIGMAS σ of the ADC's clipping threshold (with none of n sampled
conversions clipping, their clip rate is below 3/n at 95 % confidence).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from cosim.nn import noise

SAMPLE_VECTORS = 64   # vectors per product on which the check computes the exact slices
MIN_VECTORS = 256     # smaller products run exact: the check would cost about what aggregation saves
DITHER_RATIO = 0.5    # σ_s / q from which the read noise dithers the ADC (Widrow & Kollár 2008)
DITHER_SHARE = 0.01   # largest B^2s-weighted share of sampled conversions below DITHER_RATIO
CLIP_SIGMAS = 3.0     # a sampled conversion within this many σ of clipping fails the check
MAX_TABLE_BITS = 16   # input codes up to 2^16 are looked up in tables (larger: always exact)


@lru_cache(maxsize=None)
def tables(bits: int, input_bits: int, slices: int) -> dict[str, np.ndarray]:
    """Per input code c < 2^input_bits (digits d_s = (c >> s·bits) & (2^bits - 1), base B = 2^bits):
    noise L(c) = Σ_s B^2s d_s², drive D(c) = Σ_s d_s², quantisation Q(c) = Σ_{s: d_s ≠ 0} B^2s and
    conversions P(c) = #{s: d_s ≠ 0}; Q and P are applied to the OR of a vector's codes (L float32,
    the rest float64)."""
    codes = np.arange(2 ** input_bits, dtype=np.int64)
    digits = np.stack([(codes >> (s * bits)) & (2 ** bits - 1) for s in range(slices)]).astype(np.float64)
    weight = (2.0 ** bits) ** (2 * np.arange(slices))[:, None]
    return {"noise": (weight * digits ** 2).sum(axis=0).astype(np.float32), "drive": (digits ** 2).sum(axis=0),
            "quant": (weight * (digits > 0)).sum(axis=0), "count": (digits > 0).sum(axis=0)}


def sample(n: int) -> np.ndarray:
    """Indices of up to SAMPLE_VECTORS vectors of n, evenly spaced (all when n is small)."""
    return np.unique(np.linspace(0, n - 1, min(n, SAMPLE_VECTORS)).astype(np.intp)) if n else np.empty(0, np.intp)


def check(codes: np.ndarray, w: np.ndarray, variance: np.ndarray, q: float, threshold: float, bits: int,
          slices: int) -> tuple[str | None, dict]:
    """Whether one tile-row block of one phase may run aggregated, from `codes` (n, rows) of its
    sampled vectors, w and variance (rows, cols), the ADC step q and `threshold`, the current
    beyond which a conversion clips. Returns (None or the reason it may not: "dither",
    "clipping", "no_signal") and the figures it was decided on: sampled conversions, how many
    came near clipping, the B^2s-weighted share below the dither ratio and their mean σ/q."""
    significance = (2.0 ** bits) ** (2 * np.arange(slices))
    shifts = (bits * np.arange(slices)).astype(np.uint32)[:, None, None]
    digits = ((codes[None].astype(np.uint32) >> shifts) & (2 ** bits - 1)).astype(w.dtype)
    converted = digits.any(axis=2)                    # (slices, n): only these are converted
    if not converted.any():
        return "no_signal", {"sampled_conversions": 0}
    digits, weight = digits[converted], np.broadcast_to(significance[:, None], converted.shape)[converted]
    current, sigma = digits @ w, np.sqrt(np.square(digits) @ variance)
    ratio = sigma / q
    below = float(weight @ np.count_nonzero(ratio < DITHER_RATIO, axis=1)) / (float(weight.sum()) * ratio.shape[1])
    near = int(np.count_nonzero(np.abs(current) + CLIP_SIGMAS * sigma >= threshold))
    figures = {"sampled_conversions": int(ratio.size), "near_clipping": near, "below_dither_share": below,
               "mean_sigma_over_lsb": float(ratio.mean())}
    if below > DITHER_SHARE:
        return "dither", figures
    if near:
        return "clipping", figures
    return None, figures


def block_product(codes: np.ndarray, w: np.ndarray, variance: np.ndarray, q: float, key: int,
                  table: dict) -> tuple[np.ndarray, np.ndarray, int]:
    """Aggregated output of one tile-row block, in the units of AnalogMatrix._block_mvm (input
    code step × normalised conductance): codes @ w plus one Gaussian per output of the variance
    in the module docstring, drawn as noise.normal_at(key, vector · columns + column). Also the
    row drive Σ digit² (as the exact kernel's, for the energy) and the number of conversions the
    hardware makes. codes: (N, rows) unsigned input codes; w, variance: (rows, cols) float32."""
    n, cols = codes.shape[0], w.shape[1]
    mean = codes.astype(w.dtype) @ w
    var = table["noise"][codes] @ variance
    used = np.bitwise_or.reduce(codes, axis=1) if codes.shape[1] else np.zeros(n, codes.dtype)
    var += (table["quant"][used] * (q * q / 12.0)).astype(w.dtype)[:, None]
    mean += np.sqrt(var) * _normals(key, n * cols).reshape(n, cols).astype(w.dtype)
    drive = table["drive"][codes].sum(axis=0)
    return mean, drive, int(table["count"][used].sum()) * cols


def _normals(key: int, size: int) -> np.ndarray:
    """noise.normal_at(key, c) for c < size (compiled when numba is there)."""
    if noise.fill_normals_jit is None:
        return noise.normals(np.uint64(key), np.arange(size, dtype=np.uint64))
    out = np.empty(size)
    noise.fill_normals_jit(np.uint64(key), np.uint64(0), out, np.empty(size, dtype=np.bool_))
    return out
