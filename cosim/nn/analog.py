"""A weight matrix stored on simulated memristor tiles.

Numerics of one analog MVM, vectorised over the batch:
  * the host scales the input tensor to [-1, 1] by its largest magnitude (one scale per call);
  * signed inputs run as a positive and a negative phase; each phase is quantised to
    `input_bits` and split into ⌈input_bits / dac.bits⌉ bit-slices (1-bit DACs: bit-serial);
  * each slice drives the rows of one tile-row block; every column's current gets Gaussian
    read noise (σ of a cell's read ∝ its conductance, summed exactly over the active rows)
    and is digitised by the ADC (clipped to its full scale, rounded to 2^bits levels);
  * slices are shift-added and row blocks summed digitally.
Every call appends an `MvmOp` with what the hardware model needs to price and time it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cosim.devices.array import DeviceArray
from cosim.specs.hardware import HardwareSpec


@dataclass
class MvmOp:
    """One MVM call on a matrix: `vectors` inputs through every tile of the grid.

    rows_used[r] / cols_used[c]: active rows of tile-row block r and columns of block c, in the
    direction of the product (backward swaps them). conductance_load[r, c]: Σ over vectors,
    phases and slices of a²·(G⁺ + G⁻) summed over the driven cells of tile (r, c), in siemens
    (a = the row drive amplitude as a fraction of the read voltage) — the array's read energy is
    V_read²·t_read times this.
    """

    matrix: str
    direction: str
    vectors: int
    phases: int
    slices: int
    rows_used: np.ndarray
    cols_used: np.ndarray
    conductance_load: np.ndarray
    in_features: int
    out_features: int


def _blocks(size: int, block: int) -> list[slice]:
    return [slice(start, min(start + block, size)) for start in range(0, size, block)]


class AnalogMatrix:
    """`Matrix` backed by a DeviceArray; see the module docstring for the numerics."""

    def __init__(self, name: str, w_init: np.ndarray, hardware: HardwareSpec, weight_bound: float,
                 rng: np.random.Generator):
        self.name, self.hw, self.weight_bound, self.rng = name, hardware, weight_bound, rng
        self.in_features, self.out_features = w_init.shape
        self.devices = DeviceArray(hardware.device, w_init.shape, rng)
        self.row_blocks = _blocks(self.in_features, hardware.tile.rows)
        self.col_blocks = _blocks(self.out_features, hardware.tile.cols)
        self.ops: list[MvmOp] = []
        self.record = True

    @property
    def tile_grid(self) -> tuple[int, int]:
        return len(self.row_blocks), len(self.col_blocks)

    def weights(self) -> np.ndarray:
        return self.weight_bound * self.devices.weight_fraction()

    def apply_update(self, delta_w: np.ndarray) -> None:
        raise TypeError("an analog matrix is changed only by programming its devices")

    def matmul(self, x: np.ndarray) -> np.ndarray:
        return self._mvm(x, transpose=False)

    def matmul_t(self, dy: np.ndarray) -> np.ndarray:
        return self._mvm(dy, transpose=True)

    # ----- numerics ---------------------------------------------------------------------------
    def _mvm(self, x: np.ndarray, transpose: bool) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        w = self.devices.weight_fraction()
        g = self.devices.x + self.devices.g_min_x        # conductance / (g_max - g_min)
        if transpose:
            w, g = w.T, g.transpose(0, 2, 1)
        in_blocks = self.col_blocks if transpose else self.row_blocks
        out_blocks = self.row_blocks if transpose else self.col_blocks
        scale = float(np.max(np.abs(x))) if x.size else 0.0
        phases = [p for p in (np.maximum(x, 0.0), np.maximum(-x, 0.0)) if p.any()] or [x * 0.0]
        signs = [1.0, -1.0] if len(phases) == 2 else [1.0 if x.max(initial=0.0) > 0 else -1.0]
        levels, planes_of = self._input_planes()
        y = np.zeros((x.shape[0], w.shape[1]))
        load = np.zeros((len(in_blocks), len(out_blocks)))
        for sign, phase in zip(signs, phases):
            code = self._input_code(phase / scale if scale > 0 else phase)
            for r, rows in enumerate(in_blocks):
                partial, load_r = self._block_mvm(planes_of(code[:, rows]), w[rows], g[:, rows], out_blocks)
                y += sign * partial
                load[r] += load_r
        if self.record:
            self.ops.append(self._op(x.shape[0], len(phases), levels, transpose, in_blocks,
                                     out_blocks, load))
        return y * (scale / levels[0]) * self.weight_bound if scale > 0 else y

    def _input_code(self, p: np.ndarray) -> np.ndarray:
        """Inputs in [0, 1] as the DAC's integer input codes (unchanged for an ideal DAC)."""
        dac = self.hw.dac
        if dac.bits is None:
            return p
        dtype = np.uint8 if dac.input_bits <= 8 else (np.uint16 if dac.input_bits <= 16 else np.uint32)
        return np.rint(p * (2.0 ** dac.input_bits - 1.0)).astype(dtype)  # small ints: cheap shifts

    def _input_planes(self):
        """(levels, fn) where fn maps a block of input codes (N, rows) to its digit planes, one
        (N, rows) float array per slice, least significant first, and levels = (full-scale
        input code, digit base, number of slices)."""
        dac = self.hw.dac
        if dac.bits is None:
            return (1.0, 1.0, 1), lambda code: [code]
        full = 2.0 ** dac.input_bits - 1.0
        base = 2 ** dac.bits

        def planes(code: np.ndarray):
            # one plane at a time (a whole batch's planes are large); shift-and-mask, since
            # integer division is several times slower
            return (((code >> dac.bits * s) & (base - 1)).astype(np.float64) for s in range(dac.slices))
        return (full, float(base), dac.slices), planes

    def _block_mvm(self, planes, w: np.ndarray, g: np.ndarray, out_blocks):
        """Shift-added ADC outputs of one tile-row block, and its conductance load per tile.
        `planes` yields the block's digit planes, least significant slice first."""
        dac, adc, dev = self.hw.dac, self.hw.adc, self.hw.device
        base = 1.0 if dac.bits is None else 2.0 ** dac.bits
        binary = dac.bits == 1                      # 0/1 digits: digit² = digit
        n_out = w.shape[1]
        noise = variance = None
        drive = np.zeros(w.shape[0])
        for s, plane in enumerate(planes):
            if noise is None and dev.read_noise:
                # drawn for all slices at once, so the stream does not depend on the slicing loop;
                # single precision halves the cost of the largest draw of a step
                noise = self.rng.standard_normal((self.hw.dac.slices, plane.shape[0], n_out), dtype=np.float32)
                variance = dev.read_noise ** 2 * (g[0] ** 2 + g[1] ** 2)
            squared = plane if binary else plane * plane
            currents = plane @ w                                      # (N, out)
            if dev.read_noise:
                spread = squared @ variance
                np.sqrt(spread, out=spread)
                spread *= noise[s]
                currents += spread
            if adc.bits is not None:
                full_scale = adc.full_scale * w.shape[0] * (base - 1.0 if dac.bits else 1.0)
                lsb = 2.0 * full_scale / 2 ** adc.bits
                currents /= lsb                      # in place: the same rounding as rint(c / lsb) * lsb
                np.rint(currents, out=currents)
                currents *= lsb
                np.clip(currents, -full_scale, full_scale, out=currents)
            currents *= base ** s
            if s == 0:
                partial = currents
            else:
                partial += currents
            drive += squared.sum(axis=0)
        if dac.bits:
            drive /= (base - 1.0) ** 2                                 # row drive amplitude a = digit / (base - 1)
        g_siemens = (g[0] + g[1]) * dev.g_range
        load = np.array([drive @ g_siemens[:, cols].sum(axis=1) for cols in out_blocks])
        return partial, load

    def _op(self, vectors, phases, levels, transpose, in_blocks, out_blocks, load) -> MvmOp:
        rows = np.array([b.stop - b.start for b in in_blocks])
        cols = np.array([b.stop - b.start for b in out_blocks])
        in_f, out_f = (self.out_features, self.in_features) if transpose else (self.in_features, self.out_features)
        return MvmOp(self.name, "backward" if transpose else "forward", vectors, phases, levels[2],
                     rows, cols, load, in_f, out_f)
