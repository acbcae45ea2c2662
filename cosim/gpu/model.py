"""Time and energy of training steps on a GPU, from per-kernel FLOPs and bytes.

Per kernel k (FLOPs f, DRAM bytes b, peak P for its unit and precision, efficiency e_max):
    compute_k = f / (e_max P) + knee_time          (efficiency e_max f / (f + e_max P knee_time)
                                                   falls for small problems)
    memory_k  = b / (memory_efficiency BW)
    t_k       = max(compute_k, memory_k) + kernel_launch_overhead
    gpu_time  = sum t_k;  host_time = host_step_overhead + kernels host_kernel_overhead
    step time = max(gpu_time, host_time)            (eager PyTorch: the host queues ahead)
Energy per step (D = tdp - idle_power):
    E = idle T + active_power_fraction D T + sum_k (flop_energy_scale D / P_k) f_k
        + byte_energy_scale (D / BW) b_k,          capped at tdp T.
Bands: floor = FLOPs x tdp / peak (nameplate pJ/FLOP, no idle, no memory, no overhead);
calibrated = E; tdp_x_time = tdp x calibrated step time (what papers' "power x time" gives).
All quantities SI: seconds, joules, FLOPs, bytes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from cosim.gpu.ops import PHASES, Kernel, step_kernels
from cosim.arch import Arch
from cosim.specs.gpu import AssumedConstants, FittedConstants, GpuSpec, load_calibration

# Which unit runs tensor ops (conv, matmul) in each precision mode.
# "pytorch_default": cuDNN convolutions in TF32, cuBLAS matmuls in FP32 (PyTorch >= 1.12 defaults).
PRECISIONS = {
    "fp32": {"conv": "fp32", "matmul": "fp32"},
    "pytorch_default": {"conv": "tf32", "matmul": "fp32"},
    "tf32": {"conv": "tf32", "matmul": "tf32"},
    "bf16": {"conv": "bf16", "matmul": "bf16"},
}
ACTIVATION_BYTES = {"fp32": 4.0, "pytorch_default": 4.0, "tf32": 4.0, "bf16": 2.0}


@dataclass(frozen=True)
class Calibration:
    """The model's global constants (see cosim.specs.gpu for their meaning and units)."""

    fitted: FittedConstants
    assumed: AssumedConstants

    @classmethod
    def load(cls, path=None) -> "Calibration":
        spec = load_calibration(path) if path else load_calibration()
        return cls(spec.fitted, spec.assumed)


@dataclass(frozen=True)
class GpuEstimate:
    """One training step on one GPU. Seconds, joules, FLOPs, bytes; bands in joules per step."""

    gpu: str
    precision: str
    batch_size: int
    flops_per_step: float
    tensor_flops_per_step: float
    bytes_per_step: float
    kernels_per_step: int
    time_s_per_step: float
    gpu_time_s_per_step: float
    host_time_s_per_step: float
    energy_j_per_step: float
    bands: dict[str, float]
    bound: str
    by_phase: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _tensor_unit(gpu: GpuSpec, precision: str, kind: str) -> tuple[float, bool]:
    """(peak FLOP/s, runs on tensor cores) for a conv/matmul kernel."""
    unit = PRECISIONS[precision][kind]
    if unit == "tf32" and gpu.peak_tf32 is not None:
        return gpu.peak_tf32, True
    if unit == "bf16":
        return gpu.peak_bf16, True
    return gpu.peak_fp32, False


def kernel_arrays(kernels: list[Kernel], gpu: GpuSpec, precision: str, cal: Calibration):
    """Per-kernel arrays: flops, bytes, peak FLOP/s, efficiency ceiling."""
    flops = np.array([k.flops for k in kernels])
    nbytes = np.array([k.bytes for k in kernels])
    peak, eff = np.empty(len(kernels)), np.empty(len(kernels))
    for i, k in enumerate(kernels):
        p, on_tensor_cores = (_tensor_unit(gpu, precision, k.kind) if k.is_tensor_op
                              else (gpu.peak_fp32, False))
        peak[i] = p
        eff[i] = (cal.fitted.tensor_core_efficiency if on_tensor_cores
                  else cal.assumed.cuda_core_efficiency)
    return flops, nbytes, peak, eff


def kernel_times(flops, nbytes, peak, eff, gpu: GpuSpec, cal: Calibration) -> np.ndarray:
    """Seconds per kernel: roofline with a small-problem knee, plus the launch floor."""
    compute = np.where(flops > 0, flops / (eff * peak) + cal.assumed.knee_time, 0.0)
    memory = nbytes / (cal.assumed.memory_efficiency * gpu.memory_bandwidth)
    return np.maximum(compute, memory) + gpu.kernel_launch_overhead


def _energy(flops, nbytes, peak, time_s, gpu: GpuSpec, cal: Calibration) -> float:
    dynamic_range = gpu.tdp - gpu.idle_power
    per_flop = cal.fitted.flop_energy_scale * dynamic_range / peak
    per_byte = cal.fitted.byte_energy_scale * dynamic_range / gpu.memory_bandwidth
    energy = (gpu.idle_power * time_s
              + cal.fitted.active_power_fraction * dynamic_range * time_s
              + float(np.sum(per_flop * flops)) + per_byte * float(np.sum(nbytes)))
    return min(energy, gpu.tdp * time_s)


def _by_phase(kernels, flops, nbytes, times) -> dict[str, dict[str, float]]:
    phases = np.array([k.phase for k in kernels])
    return {p: {"flops": float(flops[phases == p].sum()), "bytes": float(nbytes[phases == p].sum()),
                "kernels": int((phases == p).sum()), "gpu_time_s": float(times[phases == p].sum())}
            for p in PHASES}


def estimate_step(arch: Arch, batch_size: int, gpu: GpuSpec, calibration: Calibration | None = None,
                  precision: str = "pytorch_default") -> GpuEstimate:
    """Time (s) and energy (J) of one eager-PyTorch training step (SGD with momentum)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(PRECISIONS)}")
    cal = calibration or Calibration.load()
    kernels = step_kernels(arch, batch_size, ACTIVATION_BYTES[precision])
    flops, nbytes, peak, eff = kernel_arrays(kernels, gpu, precision, cal)
    times = kernel_times(flops, nbytes, peak, eff, gpu, cal)
    gpu_time = float(times.sum())
    host_time = cal.fitted.host_step_overhead + len(kernels) * cal.assumed.host_kernel_overhead
    step = max(gpu_time, host_time)
    energy = _energy(flops, nbytes, peak, step, gpu, cal)
    tensor = np.array([k.is_tensor_op for k in kernels])
    bands = {"floor": float(np.sum(flops * gpu.tdp / peak)), "calibrated": energy,
             "tdp_x_time": gpu.tdp * step}
    return GpuEstimate(
        gpu=gpu.name, precision=precision, batch_size=batch_size,
        flops_per_step=float(flops.sum()), tensor_flops_per_step=float(flops[tensor].sum()),
        bytes_per_step=float(nbytes.sum()), kernels_per_step=len(kernels),
        time_s_per_step=step, gpu_time_s_per_step=gpu_time, host_time_s_per_step=host_time,
        energy_j_per_step=energy, bands=bands,
        bound=("host (launch)" if host_time >= gpu_time
               else _gpu_bound(flops, nbytes, peak, eff, gpu, cal)),
        by_phase=_by_phase(kernels, flops, nbytes, times))


def _gpu_bound(flops, nbytes, peak, eff, gpu: GpuSpec, cal: Calibration) -> str:
    """Which term of the kernel times dominates their sum: compute, memory or launch floor."""
    compute = np.where(flops > 0, flops / (eff * peak) + cal.assumed.knee_time, 0.0)
    memory = nbytes / (cal.assumed.memory_efficiency * gpu.memory_bandwidth)
    parts = {"compute": float(np.where(compute >= memory, compute, 0).sum()),
             "memory": float(np.where(memory > compute, memory, 0).sum()),
             "launch": gpu.kernel_launch_overhead * len(flops)}
    return f"gpu ({max(parts, key=parts.get)})"


def estimate_training(arch: Arch, batch_size: int, steps: int, gpu: GpuSpec,
                      calibration: Calibration | None = None,
                      precision: str = "pytorch_default") -> dict:
    """A JSON-ready summary of a whole training run (`steps` steps); SI units in the key names."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    est = estimate_step(arch, batch_size, gpu, calibration, precision)
    return {
        "gpu": est.gpu, "precision": est.precision, "arch": arch.name,
        "batch_size": batch_size, "steps": steps,
        "flops_per_step": est.flops_per_step, "tensor_flops_per_step": est.tensor_flops_per_step,
        "bytes_per_step": est.bytes_per_step, "kernels_per_step": est.kernels_per_step,
        "time_s_per_step": est.time_s_per_step, "energy_j_per_step": est.energy_j_per_step,
        "gpu_time_s_per_step": est.gpu_time_s_per_step,
        "host_time_s_per_step": est.host_time_s_per_step, "bound": est.bound,
        "bands": dict(est.bands),
        "time_s_run": est.time_s_per_step * steps, "energy_j_run": est.energy_j_per_step * steps,
        "bands_run": {name: value * steps for name, value in est.bands.items()},
    }
