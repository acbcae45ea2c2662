"""A weight matrix stored on simulated memristor tiles.

Numerics of one analog MVM, vectorised over the batch:
  * the host scales the input tensor to [-1, 1] by its largest magnitude (one scale per call);
  * signed inputs run as a positive and a negative phase; each phase is quantised to
    `input_bits` and split into ⌈input_bits / dac.bits⌉ bit-slices (1-bit DACs: bit-serial);
  * each slice drives the rows of one tile-row block; every column's current gets Gaussian
    read noise (σ of a cell's read ∝ its conductance, summed exactly over the active rows)
    and is digitised by the ADC (clipped to its full scale, rounded to 2^bits levels);
  * slices are shift-added and row blocks summed digitally; the host multiplies each output by
    the input scale and the weight mapping scale.
The weight mapping scale `weight_bound` (cosim.devices.mapping) is a float (per layer) or an
array of shape (out_features,) (per column); a per-column scale multiplies the forward outputs
and, in the transposed product, the inputs before they are quantised.
Every call appends an `MvmOp` with what the hardware model needs to price and time it.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np

from cosim.devices.array import DeviceArray
from cosim.devices.tile_map import TileMap
from cosim.nn import aggregated
from cosim.nn.adc_kernel import PLANE_ROWS, adc_accumulate, digit_planes, quantise
from cosim.nn.block_operands import BlockOperands, block_operands
from cosim.nn.records import HostMatmul, MvmOp
from cosim.specs.hardware import HardwareSpec


AUTO_RANGE = 0.01   # clipped share of a product's conversions that triggers a recalibration


@lru_cache(maxsize=None)
def _slice_weights(base: float, slices: int) -> np.ndarray:
    """Significance base^s of each input slice s (read-only: shared by every product)."""
    weights = base ** np.arange(slices)
    weights.flags.writeable = False
    return weights


class AnalogMatrix:
    """`Matrix` backed by a DeviceArray; see the module docstring for the numerics."""

    def __init__(self, name: str, w_init: np.ndarray, hardware: HardwareSpec, weight_bound,
                 rng: np.random.Generator):
        self.name, self.hw, self.weight_bound, self.rng = name, hardware, weight_bound, rng
        self.backward_on_host = False   # True: error back-propagation is digital (see matmul_t)
        self.in_features, self.out_features = w_init.shape
        self.devices = DeviceArray(hardware.device, w_init.shape, rng)
        self.tile_map = TileMap.of(name, w_init.shape, hardware)
        self.remapped_cols = self.devices.remap_stuck_columns(hardware.tile.spare_cols,
                                                              self.tile_map.weight_cols_per_tile)
        self.row_blocks, self.col_blocks = self.tile_map.row_blocks, self.tile_map.col_blocks
        self.ops: list[MvmOp] = []
        self.clipped_conversions = 0   # ADC conversions clipped at full scale, all calls so far
        # Per direction: calibrated ADC full scale (current units, see _block_mvm; None until the
        # first calibration), a pending recalibration, and conversion statistics.
        self.adc_full_scale = {"forward": None, "backward": None}
        self.recalibrate = {"forward": False, "backward": False}
        self.adc_stats = {d: {"conversions": 0, "clipped": 0, "calibrations": 0, "calibration_conversions": 0,
                              "calibration_zero": 0, "aggregated_conversions": 0} for d in ("forward", "backward")}
        # Per direction under hardware.mvm_numerics auto: products run aggregated / exact, why the
        # exact ones fell back, and the figures of the last check (cosim.nn.aggregated.check).
        self.numerics = {d: {"aggregated": 0, "exact": 0, "fallback": {}, "last_check": None}
                         for d in ("forward", "backward")}
        self.record = True
        self.clock = lambda: 0.0   # simulated time in seconds; the chip wires in its clock

    @property
    def tile_grid(self) -> tuple[int, int]:
        return self.tile_map.grid

    def weights(self) -> np.ndarray:
        return self.weight_bound * self.devices.weight_fraction()

    def cell_scale(self, cells: np.ndarray | None = None):
        """Mapping scale (weight units per device range) of flat cells `cells` (all if None):
        the float itself under per-layer mapping, else an array."""
        if np.ndim(self.weight_bound) == 0:
            return self.weight_bound
        per_cell = np.broadcast_to(self.weight_bound, (self.in_features, self.out_features)).ravel()
        return per_cell if cells is None else per_cell[cells]

    def to_fraction(self, cells: np.ndarray, delta_w: np.ndarray) -> np.ndarray:
        """Weight changes of flat cells `cells` in units of their mapping scale."""
        return delta_w / self.cell_scale(cells)

    def apply_update(self, delta_w: np.ndarray) -> None:
        raise TypeError("an analog matrix is changed only by programming its devices")

    def matmul(self, x: np.ndarray, input_values: int | None = None) -> np.ndarray:
        return self._mvm(x, transpose=False, input_values=input_values)

    def matmul_t(self, dy: np.ndarray) -> np.ndarray:
        if self.backward_on_host:
            return self._host_matmul_t(dy)
        return self._mvm(dy, transpose=True)

    def _host_matmul_t(self, dy: np.ndarray) -> np.ndarray:
        """dy @ W.T digitally on the host, from the weights as the devices now hold them (the
        upkeep of that digital copy is not priced); recorded as host multiply-accumulates."""
        if self.record:
            self.ops.append(HostMatmul(float(dy.shape[0] * self.in_features * self.out_features)))
        self.devices.advance_to(self.clock())
        return np.asarray(dy, dtype=np.float64) @ self.weights().T

    # ----- numerics ---------------------------------------------------------------------------
    def _mvm(self, x: np.ndarray, transpose: bool, input_values: int | None = None) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        out_scale = self.weight_bound
        if transpose and np.ndim(out_scale):     # per-column scale: scale dy before the tiles
            x, out_scale = x * out_scale, 1.0
        if self.record:
            self.devices.advance_to(self.clock())
            x_dev = self.devices.x
        else:       # a measurement: relaxed to now from its own generator, state untouched
            x_dev = self.devices.peek(self.clock(), self.rng)
        in_blocks = self.col_blocks if transpose else self.row_blocks
        out_blocks = self.row_blocks if transpose else self.col_blocks
        top, bottom = float(x.max(initial=0.0)), float(x.min(initial=0.0))
        scale = max(top, -bottom)                        # max |x|, without an |x| temporary
        signs = [sign for sign, some in ((1.0, top > 0), (-1.0, bottom < 0)) if some] or [1.0]
        dac = self.hw.dac
        full = 1.0 if dac.bits is None else 2.0 ** dac.input_bits - 1.0
        precision = np.float64 if dac.bits is None else np.float32
        # One tile-row block at a time keeps the peak memory small. Its operands serve both input
        # phases; [W | σ²] has C-contiguous rows and W, σ² are views of it with unit column
        # stride, which BLAS takes as they are (threaded BLAS was ~100x slower on transposed views).
        blocks = [block_operands(x_dev, self.devices.g_min_x, self.hw.device.read_noise ** 2, transpose, rows,
                                 precision) for rows in in_blocks]
        y = np.zeros((x.shape[0], self.in_features if transpose else self.out_features))
        load = np.zeros((len(in_blocks), len(out_blocks)))
        direction = "backward" if transpose else "forward"
        phase_inputs = [self._phase_inputs(x, sign * full / scale if scale > 0 else 0.0) for sign in signs]
        range_before = self.adc_full_scale[direction]
        calibrated = self._calibrate_adc(direction, phase_inputs, blocks, in_blocks)
        plan = iter(self._aggregation_plan(direction, phase_inputs, blocks, in_blocks))
        clipped_before = self.clipped_conversions
        conversions_before = self.adc_stats[direction]["conversions"]
        for sign, inputs in zip(signs, phase_inputs):
            for r, (rows, block) in enumerate(zip(in_blocks, blocks)):
                block_mvm = self._aggregated_block_mvm if next(plan) else self._block_mvm
                partial, load_r = block_mvm(inputs[:, rows], block, out_blocks, direction)
                y += sign * partial
                load[r] += load_r
        if self.record:
            op = self._op(x.shape[0], len(signs), (full, 0, dac.slices), transpose, load, input_values)
            if calibrated:   # the calibration pass ran the same inputs through the same tiles first
                self.ops.append(replace(op, calibration=True))
            self.ops.append(op)
            # Auto-ranging: a training product clipping more than AUTO_RANGE of its conversions
            # recalibrates on the next one (a layer whose weights outgrew its last calibration).
            done = self.adc_stats[direction]["conversions"] - conversions_before
            if done and (self.clipped_conversions - clipped_before) > AUTO_RANGE * done:
                self.recalibrate[direction] = True
        else:   # a measurement ranges the ADC for itself only: how often one measures never
            self.adc_full_scale[direction] = range_before    # changes the ranges training uses
        return y * (scale / full) * out_scale if scale > 0 else y

    # ----- ADC range calibration -------------------------------------------------------------
    def _calibrate_adc(self, direction: str, phase_inputs: list, blocks: list, in_blocks) -> bool:
        """Per-layer calibration (adc.calibration per_layer): on the first product of a direction,
        and on the next training product after a recalibration was requested, set the full scale
        to calibration_headroom x the largest noiseless column current of this batch (every
        slice, phase and tile-row block), and record how many of its conversions would round to
        code zero. Returns True when it recalibrated a range set before: the chip then runs the
        batch through the tiles once more before the product (a calibration pass, priced; its
        peak is found at the converters, so no outputs move). A direction's first range, set on
        the first training batch, is part of the chip's setup and unpriced (cost-only prices no
        calibration). A measurement (record off) that finds no range ranges on its own batch,
        for that product only, and counts nothing."""
        adc = self.hw.adc
        if adc.bits is None or adc.calibration != "per_layer":
            return False
        first = self.adc_full_scale[direction] is None
        if not (first or (self.recalibrate[direction] and self.record)):
            return False
        currents = [self._noiseless_currents(inputs[:, rows], block.w)
                    for inputs in phase_inputs for rows, block in zip(in_blocks, blocks)]
        peak = max((float(np.abs(c).max(initial=0.0)) for c in currents), default=0.0)
        if peak <= 0.0:
            return not first   # the pass ran but found nothing to range on (all-zero inputs or weights)
        full_scale = adc.calibration_headroom * peak
        self.adc_full_scale[direction] = full_scale
        if not self.record:
            return False         # a measurement's own range (restored after it; see _mvm)
        self.recalibrate[direction] = False
        half_lsb = full_scale / 2 ** adc.bits
        stats = self.adc_stats[direction]
        stats["calibrations"] += 1
        stats["calibration_conversions"] += sum(c.size for c in currents)
        stats["calibration_zero"] += sum(int(np.count_nonzero(np.abs(c) < half_lsb)) for c in currents)
        return not first

    def _noiseless_currents(self, inputs: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Column currents of every input slice of one tile-row block, (slices·N, cols)."""
        dac = self.hw.dac
        if dac.bits is None or self._accumulates_slices():
            return inputs.astype(w.dtype) @ w     # analog accumulation: one current per vector
        digit_max = 2 ** dac.bits - 1
        planes = [((inputs >> (s * dac.bits)) & digit_max).astype(w.dtype) @ w for s in range(dac.slices)]
        return np.concatenate(planes)

    def _phase_inputs(self, x: np.ndarray, factor: float) -> np.ndarray:
        """One input phase, the positive part of x · factor (factor < 0: the negative phase):
        integer input codes for a bit-serial DAC, float64 values in [0, 1] for an ideal one."""
        if self.hw.dac.bits is None:
            return np.maximum(x * factor, 0.0)
        return quantise(x, factor, self.hw.dac.input_bits)

    def _block_mvm(self, inputs: np.ndarray, block: BlockOperands, out_blocks,
                   direction: str = "forward") -> tuple[np.ndarray, np.ndarray]:
        """Shift-added ADC outputs of one tile-row block (in units of the input code step times
        the normalised conductance), and its conductance load per tile (S). inputs: (N, rows)
        codes or values; block: the block's weights, read-noise variances and G⁺ + G⁻."""
        dac, adc = self.hw.dac, self.hw.adc
        w, variance, g_pair = block.w, block.variance, block.g_pair
        rows, cols = w.shape
        sliced = dac.bits is not None
        digit_max = 2 ** dac.bits - 1 if sliced else 1
        lsb = np.empty(0, dtype=w.dtype)
        k_max = 0.0
        if adc.bits is not None:
            lsb = np.full(cols, self._adc_step(direction, rows), dtype=w.dtype)
            k_max = 2.0 ** (adc.bits - 1)       # full_scale / lsb
        noisy = bool(self.hw.device.read_noise)
        one_product = noisy and digit_max == 1  # 0/1 digits: d² = d, so [W | σ²] in one product
        weights = block.w_var if one_product else w
        n_all = inputs.shape[0]
        key = int(self.rng.integers(2 ** 63)) if noisy else 0   # this block's read-noise stream
        if self._accumulates_slices():
            return self._accumulated_block_mvm(inputs, w, variance, g_pair, out_blocks, direction, lsb, k_max, key)
        acc = np.zeros((n_all, cols), dtype=w.dtype)
        drive = np.zeros(rows)
        chunk_size = max(PLANE_ROWS // dac.slices, 1)
        plane = np.empty((min(chunk_size, n_all) * dac.slices, rows), dtype=w.dtype)
        vec, slc = np.empty(plane.shape[0], dtype=np.intp), np.zeros(plane.shape[0], dtype=np.intp)
        slice_weights = _slice_weights(digit_max + 1.0, dac.slices)
        for start in range(0, n_all, chunk_size):
            chunk = inputs[start:start + chunk_size]
            if sliced:
                n = digit_planes(chunk, dac.bits, dac.slices, plane, drive, vec, slc)
                p = plane[:n]
            else:
                p, n = chunk, chunk.shape[0]
                vec[:n] = np.arange(n)
                drive += np.square(p).sum(axis=0)
            product = p @ weights           # currents in its first cols columns
            if noisy:                       # variances: product's other columns, or their own product
                var, var_col = (product, cols) if one_product else (np.square(p) @ variance, 0)
            else:
                var, var_col = np.empty((0, cols), dtype=w.dtype), 0
            clipped = adc_accumulate(
                product, var, key, n_all, start, vec[:n], slc[:n], lsb, -k_max, k_max, slice_weights,
                acc[start:start + chunk_size], var_col)
            self.clipped_conversions += clipped
            if self.record:
                self.adc_stats[direction]["clipped"] += clipped
                self.adc_stats[direction]["conversions"] += n * cols
        partial = acc * lsb if lsb.size else acc
        return partial, self._load(drive, g_pair, out_blocks)

    def _accumulated_block_mvm(self, inputs, w, variance, g_pair, out_blocks, direction, lsb, k_max, key):
        """_block_mvm with analog slice accumulation: each column's charge Σ_s base^s·(d_s @ W) =
        code @ W is converted once per vector (one quantisation of the accumulated value); the
        slices' read noises are independent, so its variance is Σ_s base^(2s)·(d_s² @ σ²). The
        array is still driven slice by slice (same drive, same conductance load)."""
        dac = self.hw.dac
        rows, cols = w.shape
        mask, base = 2 ** dac.bits - 1, 2.0 ** dac.bits
        noisy = bool(self.hw.device.read_noise)
        n_all = inputs.shape[0]
        acc = np.zeros((n_all, cols), dtype=w.dtype)
        drive = np.zeros(rows)
        chunk_size = max(PLANE_ROWS // dac.slices, 1)
        for start in range(0, n_all, chunk_size):
            chunk = inputs[start:start + chunk_size]
            n = chunk.shape[0]
            weighted_sq = np.zeros(chunk.shape, dtype=w.dtype)   # Σ_s base^(2s)·d_s², per input
            for s in range(dac.slices):
                digits = ((chunk >> chunk.dtype.type(s * dac.bits)) & chunk.dtype.type(mask)).astype(w.dtype)
                drive += np.square(digits, dtype=np.float64).sum(axis=0)
                weighted_sq += base ** (2 * s) * np.square(digits)
            current = chunk.astype(w.dtype) @ w
            var = weighted_sq @ variance if noisy else np.empty((0, cols), dtype=w.dtype)
            vec, slc = np.arange(n, dtype=np.intp), np.zeros(n, dtype=np.intp)
            clipped = adc_accumulate(current, var, key, n_all, start, vec, slc, lsb, -k_max, k_max,
                                     np.ones(1), acc[start:start + n])
            self.clipped_conversions += clipped
            if self.record:
                self.adc_stats[direction]["clipped"] += clipped
                self.adc_stats[direction]["conversions"] += current.size
        partial = acc * lsb if lsb.size else acc
        return partial, self._load(drive, g_pair, out_blocks)

    def _adc_step(self, direction: str, rows: int) -> float:
        """ADC step (current units, see _block_mvm) of a tile-row block of `rows` rows: 2 x the
        calibrated full scale, else the spec's fixed one, / 2^bits."""
        adc, dac = self.hw.adc, self.hw.dac
        digit_max = 2 ** dac.bits - 1 if dac.bits is not None else 1
        if self._accumulates_slices():        # the accumulated value spans every input bit
            digit_max = 2 ** dac.input_bits - 1
        full_scale = self.adc_full_scale[direction] or adc.full_scale * rows * digit_max
        return 2.0 * full_scale / 2 ** adc.bits

    def _accumulates_slices(self) -> bool:
        """True when the columns accumulate the input slices in the analog domain before one
        conversion (adc.slice_accumulation analog, with more than one slice)."""
        return self.hw.adc.slice_accumulation == "analog" and self.hw.dac.slices > 1

    def _load(self, drive: np.ndarray, g_pair: np.ndarray, out_blocks) -> np.ndarray:
        """Conductance load per tile (S) of a block from its rows' Σ digit² (drive)."""
        digit_max = 2 ** self.hw.dac.bits - 1 if self.hw.dac.bits is not None else 1
        g_siemens = g_pair * self.hw.device.g_range
        drive = drive / digit_max ** 2          # row drive amplitude², a fraction of V_read²
        return np.array([drive @ g_siemens[:, cols].sum(axis=1) for cols in out_blocks])

    # ----- aggregated numerics (hardware.mvm_numerics: auto; cosim.nn.aggregated) ----------------
    def _aggregation_plan(self, direction: str, phase_inputs: list, blocks: list, in_blocks) -> list:
        """Per input phase and tile-row block (loop order): whether it runs aggregated, i.e.
        mvm_numerics auto and the check passes on it; records the outcomes per direction
        (training products only, as adc_stats): blocks aggregated / exact, fallback reasons,
        the last product's check figures."""
        if self.hw.mvm_numerics == "exact":
            return [False] * (len(phase_inputs) * len(in_blocks))
        outcomes = self._aggregation_checks(direction, phase_inputs, blocks, in_blocks)
        if self.record:
            stats = self.numerics[direction]
            for reason, _ in outcomes:
                stats["aggregated" if reason is None else "exact"] += 1
                if reason is not None:
                    stats["fallback"][reason] = stats["fallback"].get(reason, 0) + 1
            stats["last_check"] = [figures for _, figures in outcomes]
        return [reason is None for reason, _ in outcomes]

    def _aggregation_checks(self, direction, phase_inputs, blocks, in_blocks) -> list:
        """(None or why not, figures) per phase and block: the chip's conditions (the same for
        all), then the sampled check of each block."""
        dac, adc = self.hw.dac, self.hw.adc
        static = ("ideal_dac" if dac.bits is None else "ideal_adc" if adc.bits is None
                  else "no_read_noise" if not self.hw.device.read_noise
                  else "input_bits" if dac.input_bits > aggregated.MAX_TABLE_BITS
                  else "analog_slice_accumulation" if self._accumulates_slices()
                  else "small_product" if phase_inputs[0].shape[0] < aggregated.MIN_VECTORS else None)
        if static is not None:
            return [(static, None)] * (len(phase_inputs) * len(in_blocks))
        picked = aggregated.sample(phase_inputs[0].shape[0])
        outcomes = []
        for inputs in phase_inputs:
            for rows, block in zip(in_blocks, blocks):
                q = self._adc_step(direction, block.w.shape[0])
                outcomes.append(aggregated.check(inputs[picked][:, rows], block.w, block.variance, q,
                                                 q * (2.0 ** (adc.bits - 1) + 0.5),   # clips beyond k_max + 1/2 steps
                                                 dac.bits, dac.slices))
        return outcomes

    def _aggregated_block_mvm(self, inputs: np.ndarray, block: BlockOperands, out_blocks,
                              direction: str = "forward"):
        """_block_mvm's result, aggregated over the input slices (cosim.nn.aggregated): the same
        units, the same conductance load and conversion count, one read-noise key per block."""
        dac = self.hw.dac
        w, variance, g_pair = block.w, block.variance, block.g_pair
        q = self._adc_step(direction, w.shape[0])
        key = int(self.rng.integers(2 ** 63))    # as the exact kernel: the device stream advances alike
        table = aggregated.tables(dac.bits, dac.input_bits, dac.slices)
        partial, drive, conversions = aggregated.block_product(inputs, w, variance, q, key, table)
        if self.record:
            self.adc_stats[direction]["conversions"] += conversions
            self.adc_stats[direction]["aggregated_conversions"] += conversions
        return partial, self._load(drive, g_pair, out_blocks)

    def _op(self, vectors, phases, levels, transpose, load, input_values=None) -> MvmOp:
        direction = "backward" if transpose else "forward"
        # Physical lines (TileMap.lines): a sliced weight column is cells_per_weight columns; its
        # conductance load is approximated as cells_per_weight cells at the aggregate conductance.
        rows, cols = self.tile_map.lines(direction)
        load = load * self.tile_map.cells_per_weight
        in_f, out_f = (self.out_features, self.in_features) if transpose else (self.in_features, self.out_features)
        return MvmOp(self.name, direction, vectors, phases, levels[2], rows, cols, load, in_f, out_f, input_values)
