"""GPU specs (`hardware_specs/gpus/*.yaml`) and the GPU model's calibration file.

Every number in a GPU file carries a source note in `sources` (a key per quantity field); a
missing note is an error, so an unsourced number cannot slip in.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from cosim.specs.base import (Bytes, BytesPerSecond, FlopsPerSecond, FrozenSpec, Seconds, Source,
                              Watts, is_preset_name, load_spec, resolve_path, resolve_spec, shipped_dir)

GPU_DIR = shipped_dir("hardware_specs/gpus")
CALIBRATION_FILE = GPU_DIR / "calibration.yaml"
PositiveFraction = Annotated[float, Field(gt=0.0, le=1.0)]
NonNegativeFraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]


class GpuSpec(FrozenSpec):
    """One GPU's nameplate numbers. Peaks are dense (no sparsity), in FLOP/s."""

    name: str = Field(min_length=1)
    peak_fp32: FlopsPerSecond = Field(description="FP32 on CUDA cores, FLOP/s")
    peak_tf32: FlopsPerSecond | None = Field(
        default=None, description="TF32 tensor cores, FLOP/s; null: no TF32 (FP32 is used)")
    peak_bf16: FlopsPerSecond = Field(description="BF16 tensor cores, FLOP/s")
    memory_bandwidth: BytesPerSecond = Field(description="DRAM bandwidth, B/s")
    tdp: Watts = Field(description="board power limit, W")
    idle_power: Watts = Field(description="power when powered on and idle, W")
    l2_size: Bytes = Field(description="last-level cache, bytes (reported; not yet used)")
    kernel_launch_overhead: Seconds["10 ns", "10 ms"] = Field(
        description="device-side floor per kernel (launch + ramp + drain), s")
    sources: dict[str, Source]

    @model_validator(mode="after")
    def _checks(self):
        if self.idle_power >= self.tdp:
            raise ValueError(f"idle_power ({self.idle_power} W) must be below tdp ({self.tdp} W)")
        numbers = {name for name in type(self).model_fields if name not in ("name", "sources")}
        missing = sorted(n for n in numbers if n not in self.sources)
        unknown = sorted(n for n in self.sources if n not in numbers)
        if missing:
            raise ValueError(f"sources: every number needs a source note; missing {missing}")
        if unknown:
            raise ValueError(f"sources: notes for unknown fields {unknown}")
        return self


class FittedConstants(FrozenSpec):
    """Global constants fitted on measured training steps (dimensionless unless noted)."""

    host_step_overhead: NonNegativeFloat = Field(
        description="host (framework) time per step on top of per-kernel dispatch, s")
    tensor_core_efficiency: PositiveFraction = Field(
        description="achievable fraction of tensor-core peak for large kernels")
    active_power_fraction: NonNegativeFraction = Field(
        description="power above idle while a training loop runs, as a fraction of tdp - idle")
    flop_energy_scale: NonNegativeFloat = Field(
        description="dynamic energy per FLOP as a multiple of (tdp - idle) / peak")
    byte_energy_scale: NonNegativeFloat = Field(
        description="dynamic energy per DRAM byte as a multiple of (tdp - idle) / bandwidth")


class AssumedConstants(FrozenSpec):
    """Constants the three measurements cannot pin down; our stated choices."""

    host_kernel_overhead: Seconds["10 ns", "10 ms"] = Field(description="host dispatch time per kernel, s")
    cuda_core_efficiency: PositiveFraction = Field(description="achievable fraction of FP32 peak for large kernels")
    memory_efficiency: PositiveFraction = Field(description="achievable fraction of DRAM bandwidth")
    knee_time: Seconds["1 ns", "1 s"] = Field(
        description="a kernel whose work takes this long at full efficiency runs at half of it, s")


class CalibrationSpec(FrozenSpec):
    """`hardware_specs/gpus/calibration.yaml`, written by `python -m cosim.gpu.calibrate`."""

    source: Source
    gpu: str = Field(description="GPU the measurements were taken on (hardware_specs/gpus stem)")
    fitted_on: list[str] = Field(description="measured training steps the constants were fitted to")
    fitted: FittedConstants
    assumed: AssumedConstants
    priors: FittedConstants
    notes: dict[str, Source] = Field({}, description="where each assumed constant comes from")
    residuals: dict[str, dict[str, float]] = Field({}, description="per measured step: model vs measurement")
    leave_one_out: dict[str, dict[str, float]] = Field(
        {}, description="per measured step: error when fitted without it")


def gpu_spec_path(name_or_path: str | Path) -> Path:
    """A file stem in hardware_specs/gpus ("h200") or a path to a YAML file."""
    return resolve_spec(str(name_or_path).lower() if is_preset_name(name_or_path) else name_or_path, "gpu")


def load_gpu(name_or_path: str | Path) -> GpuSpec:
    return load_spec(GpuSpec, gpu_spec_path(name_or_path), "gpu")


def load_calibration(path: str | Path = CALIBRATION_FILE) -> CalibrationSpec:
    return load_spec(CalibrationSpec, resolve_path(path), "calibration")
