"""Benchmarks, each `python -m benchmarks.NAME` printing one JSON line (see RESULTS.md).

BLAS runs single-threaded unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS say
otherwise: on a shared 2-core machine threaded BLAS spins against other load and was up to 100x
slower on the small products a training step makes. Set here, before any module loads numpy.
"""
import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
