"""The numba switch of the training core: cosim.jit (kept here for the kernels that import it)."""
from cosim.jit import jit, numba  # noqa: F401
