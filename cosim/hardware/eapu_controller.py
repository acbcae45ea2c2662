"""EaPU controller: applies the sparse ±Δw_th steps an EaPU plan selects, open loop.

The host draws the random numbers (priced on the host); the controller receives only the
selected cells' addresses and signs, so its schedule is that of an open-loop writer.
"""
from __future__ import annotations

from cosim.hardware.open_loop_controller import OpenLoopController


class EaPUController(OpenLoopController):
    kind = "eapu_controller"
    op = "eapu_write"
    plan_mode = "eapu"
