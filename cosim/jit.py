"""numba when it can be used, else nothing: `jit(fn)` is numba.njit(fn) or None.

COSIM_NUMBA=0 in the environment turns numba off (the numpy paths of cosim.nn.adc_kernel,
cosim.nn.noise, cosim.nn.block_operands, cosim.devices.response, the relaxation of
cosim.devices.array, the open-loop and write-verify writes of cosim.devices.programming, EaPU's
selection in cosim.rules.eapu and the per-tile write totals of cosim.hardware.open_loop_controller
then run, with the same results). At the bottom layer so that device physics, the training core
and the chip model share one switch.
"""
from __future__ import annotations

import os

try:
    if os.environ.get("COSIM_NUMBA", "1") == "0":
        raise ImportError("disabled by COSIM_NUMBA=0")
    import numba
except ImportError:   # numba missing or its JIT unusable here
    numba = None


def jit(fn):
    """fn compiled by numba (nopython, cached on disk, numpy's floating-point error model), or
    None without numba."""
    return numba.njit(cache=True, nogil=True, error_model="numpy")(fn) if numba is not None else None
