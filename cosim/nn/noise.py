"""Counter-based standard normal draws: z = normal(key, counter), the same value however the
draws are ordered, chunked or skipped.

Read noise needs one Gaussian per column current per bit-slice per vector (~10^8 per step of the
paper's denoising workload); numpy's Generator spends ~9 ns on each here. This one is the
SplitMix64 sequence (Steele et al., OOPSLA 2014; Java's SplittableRandom) at position `counter`
of the stream seeded by `key`, turned into a normal by the 256-layer ziggurat of Marsaglia &
Tsang (J. Stat. Softw. 2000): one 64-bit hash per draw in 99 % of cases (8 bits choose the
layer, 1 the sign, 53 the uniform), a chained hash per rejection. Compiled with numba (~1-2 ns a
draw, fused into the ADC kernel); `normals` is the vectorised numpy version of the same
function (the same values up to the last bit of exp/log in the rare wedge and tail cases).
The key of each product comes from the matrix's seeded numpy Generator, so runs stay
reproducible from the workload seed.
"""
from __future__ import annotations

import numpy as np

from cosim.nn.jit import jit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)     # SplitMix64 increment
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_RETRY = np.uint64(0xD1B54A32D192ED03)     # separates the hashes of retries and second uniforms
_S30, _S27, _S31, _S11, _S8 = (np.uint64(s) for s in (30, 27, 31, 11, 8))
_MASK8, _ONE = np.uint64(0xFF), np.uint64(1)
_TO_UNIT = 2.0 ** -53

# 256-layer ziggurat for exp(-x²/2): layer i is a rectangle of width X[i] between heights F[i] and
# F[i + 1]; every layer (the base one with the tail beyond R) has area V.
R, V = 3.6541528853610088, 0.00492867323399


def _tables():
    f = lambda x: np.exp(-0.5 * x * x)     # noqa: E731
    x = np.zeros(257)
    x[0], x[1] = V / f(R), R
    for i in range(2, 256):
        x[i] = np.sqrt(-2.0 * np.log(V / x[i - 1] + f(x[i - 1])))
    return x, f(x)


X, F = _tables()
F[0] = 0.0   # the base layer's rectangle reaches down to 0


def mix(z):
    """The SplitMix64 output function (uint64, wrapping arithmetic)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def _unit(h):
    return (h >> _S11).astype(np.float64) * _TO_UNIT if isinstance(h, np.ndarray) else float(h >> _S11) * _TO_UNIT


# ----- scalar version (compiled by numba inside the ADC kernel) -------------------------------
def normal_at(key, counter):
    """Standard normal number `counter` of stream `key` (both uint64)."""
    h = _mix1(key + counter * GOLDEN)
    while True:
        i = h & _MASK8
        u = np.float64(h >> _S11) * _TO_UNIT
        x = u * X[i]
        if x < X[i + _ONE]:
            return -x if (h >> _S8) & _ONE else x
        h2 = _mix1(h ^ _RETRY)
        if i == 0:                          # tail beyond R (Marsaglia 1964)
            while True:
                a = -np.log(1.0 - np.float64(h2 >> _S11) * _TO_UNIT) / R
                h2 = _mix1(h2 ^ _RETRY)
                b = -np.log(1.0 - np.float64(h2 >> _S11) * _TO_UNIT)
                if 2.0 * b > a * a:
                    return -(R + a) if (h >> _S8) & _ONE else R + a
                h2 = _mix1(h2 ^ _RETRY)
        y = F[i] + np.float64(h2 >> _S11) * _TO_UNIT * (F[i + _ONE] - F[i])
        if y < np.exp(-0.5 * x * x):
            return -x if (h >> _S8) & _ONE else x
        h = _mix1(h2 ^ _RETRY)


# ----- vectorised numpy version ----------------------------------------------------------------
def normals(key, counters: np.ndarray) -> np.ndarray:
    """normal_at(key, c) for every c of `counters` (uint64 array), float64, same shape."""
    with np.errstate(over="ignore"):        # uint64 arithmetic wraps by design
        return _normals(key, counters)


def _normals(key, counters):
    counters = np.asarray(counters, dtype=np.uint64)
    out = np.empty(counters.shape)
    flat = out.reshape(-1)
    h = mix(np.uint64(key) + counters.reshape(-1) * GOLDEN)
    todo = np.arange(h.size)
    while todo.size:
        i = (h & _MASK8).astype(np.intp)
        x = _unit(h) * X[i]
        negative = ((h >> _S8) & _ONE).astype(bool)
        done = x < X[i + 1]
        h2 = mix(h ^ _RETRY)
        tail = ~done & (i == 0)
        wedge = ~done & ~tail
        y = F[i[wedge]] + _unit(h2[wedge]) * (F[i[wedge] + 1] - F[i[wedge]])
        wedge_ok = np.zeros_like(done)
        wedge_ok[wedge] = y < np.exp(-0.5 * x[wedge] ** 2)
        done |= wedge_ok
        for j in np.flatnonzero(tail):       # ~3e-4 of the draws: scalar loop
            x[j] = _tail(h2[j])
            done[j] = True
        flat[todo[done]] = np.where(negative[done], -x[done], x[done])
        h = mix(h2[~done] ^ _RETRY)
        todo = todo[~done]
    return out


def _tail(h2) -> float:
    while True:
        a = -np.log(1.0 - _unit(h2)) / R
        h2 = mix(h2 ^ _RETRY)
        b = -np.log(1.0 - _unit(h2))
        if 2.0 * b > a * a:
            return R + a
        h2 = mix(h2 ^ _RETRY)


def fill_normals(key, base, out, rejected):
    """out[c] = normal_at(key, base + c) for c < out.size (1-D out; `rejected`: a bool scratch
    array as long). The compiled kernel's form: a branch-free pass over all, which the
    ziggurat's first test accepts for ~99 %, then the rest one by one."""
    n = 0
    for c in range(out.size):
        h = _mix1(key + (base + np.uint64(c)) * GOLDEN)
        i = np.intp(h & _MASK8)
        x = np.float64(h >> _S11) * _TO_UNIT * X[i]
        out[c] = x - 2.0 * x * np.float64((h >> _S8) & _ONE)
        rejected[c] = not x < X[i + 1]
        n += rejected[c]
    if n:
        for c in range(out.size):
            if rejected[c]:
                out[c] = _normal_at1(key, base + np.uint64(c))
    return n


_mix1 = jit(mix) or mix                     # numba resolves these globals when it compiles
_normal_at1 = jit(normal_at) or normal_at
fill_normals_jit = jit(fill_normals)        # None without numba
