"""Write plans: what an update rule asks the hardware to write. Rules never touch SimPy."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

Mode = Literal["digital", "open_loop", "eapu", "verify"]
FAST = ".fast"   # suffix of the matrix name of a rule's auxiliary (fast) matrix


@dataclass
class WritePlan:
    """Cells to write and the weight change wanted for each.

    mode: "digital" (apply exactly in host memory), "open_loop" (one pulse train per cell),
    "eapu" (open-loop ±Δw_th steps on sparse cells), "verify" (closed-loop write-verify); the
    mode alone chooses the chip's controller (cosim.hardware.registry.CONTROLLERS). cells: flat indices into the (in, out) matrix.
    delta: wanted change per cell, in weight units. value_bits: bits per cell sent over the bus
    besides its address. host_draws: random numbers the host drew to make the plan; host_ops:
    other elementwise host operations it needed (accumulator adds and compares).
    target: "" for the trained matrix itself, FAST for the rule's auxiliary matrix.
    """

    mode: Mode
    cells: np.ndarray
    delta: np.ndarray
    value_bits: int
    host_draws: int = 0
    host_ops: float = 0.0
    target: str = ""


@dataclass(frozen=True)
class RuleContext:
    """What a rule may know about the hardware holding one matrix.

    sigma_write: nominal σ of one pulse's write, weight units (a float, or per flat cell under
    per-column mapping). pulse_step: weight change of one nominal pulse (None on a continuous
    device). current_sigma(): per-cell σ of a write now, weight units (None for digital weights).
    fast: the auxiliary analog matrix of rules that keep one. verify_tolerance: the chip's
    write-verify acceptance band, weight units. expected_change(cells, n): expected weight change
    (weight units) of n signed pulses on each flat cell's active device (cells None: every cell,
    in order), on a nominal device at its present state (None for digital weights).
    """

    sigma_write: float | np.ndarray
    weight_bits: int
    matrix: str = ""
    pulse_step: float | np.ndarray | None = None
    current_sigma: Callable[[], np.ndarray] | None = None
    fast: object = None
    verify_tolerance: float | np.ndarray = 0.0
    expected_change: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None


def context_for(name: str, matrix, hw, weight_bound: float, now_s: float, fast=None) -> RuleContext:
    """The context of matrix `name` at simulated time `now_s` (s). Weight-unit quantities use
    the matrix's own mapping scale; `weight_bound` only scales a digital matrix's σ."""
    devices = getattr(matrix, "devices", None)
    if devices is None:
        return RuleContext(hw.device.write_noise * weight_bound, hw.bus.weight_bits, name)
    scale = matrix.cell_scale()     # mapping scale: a float per layer, or per cell (flat)
    nominal = devices.nominal_write_sigma * scale
    step = None if devices.response.continuous else scale / devices.response.levels
    return RuleContext(nominal, hw.bus.weight_bits, name, step,
                       lambda: devices.write_sigma(now_s).ravel() * scale, fast,
                       verify_tolerance=hw.write_verify.tolerance * scale,
                       expected_change=lambda cells, n: devices.expected_weight_change(cells, n)
                       * at_cells(scale, cells))


def at_cells(value, cells: np.ndarray | None):
    """A context quantity (float, or per flat cell) at flat cells `cells` (None: every cell)."""
    return value if np.ndim(value) == 0 or cells is None else np.asarray(value)[cells]
