"""GPU baseline: time and energy of training a network on a GPU, with stated assumptions.

Pure numpy/python (no SimPy). `estimate_step` prices one eager-PyTorch training step of an
`Arch`; `estimate_training` returns a JSON-ready summary of a whole run. Constants are fitted
by `python -m cosim.gpu.calibrate` on measured H200 steps; see docs/gpu_model.md.
"""
from cosim.gpu.model import Calibration, GpuEstimate, PRECISIONS, estimate_step, estimate_training
from cosim.gpu.ops import Kernel, parameter_count, step_kernels
from cosim.specs.gpu import GpuSpec, load_gpu

__all__ = ["Calibration", "GpuEstimate", "GpuSpec", "Kernel", "PRECISIONS", "estimate_step",
           "estimate_training", "load_gpu", "parameter_count", "step_kernels"]
