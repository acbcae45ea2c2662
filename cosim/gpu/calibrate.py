"""Fit the GPU model's global constants on measured H200 training steps.

    python -m cosim.gpu.calibrate [--measured FILE] [--out FILE] [--check]

Five constants (cosim.specs.gpu.FittedConstants) are fitted by regularised least squares on the
log ratios predicted/measured of step time and step energy of every workload. Each constant
has a stated prior (an assumed value, one decade wide); where the data pin a constant down the
prior hardly matters, where they cannot (leave-one-out fits on two workloads) the prior fills
in, and the report says so. Also runs leave-one-out: fit on two workloads, predict the third.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from cosim.gpu.model import Calibration, estimate_step
from cosim.arch import Arch, dncnn, mlp, resnet
from cosim.specs.gpu import CALIBRATION_FILE, AssumedConstants, FittedConstants, load_gpu

# The team's H200 measurements (shared/reference/gpu_h200_measured.json), committed as
# hardware_specs/gpus/h200_measured.json so the fit is reproducible.
MEASURED_FILE = CALIBRATION_FILE.parent / "h200_measured.json"
FITTED_NAMES = list(FittedConstants.model_fields)
PRIORS = FittedConstants(host_step_overhead=200e-6, tensor_core_efficiency=0.5,
                         active_power_fraction=0.1, flop_energy_scale=0.5, byte_energy_scale=0.3)
ASSUMED = AssumedConstants(host_kernel_overhead=10e-6, cuda_core_efficiency=0.7,
                           memory_efficiency=0.8, knee_time=5e-6)
NOTES = {
    "host_kernel_overhead": "assumed: eager-PyTorch dispatch + launch per kernel on a server CPU",
    "cuda_core_efficiency": "assumed: large SGEMM reaches ~70 % of FP32 peak",
    "memory_efficiency": "assumed: streaming kernels reach ~80 % of DRAM bandwidth",
    "knee_time": "assumed: a kernel needs ~5 us of work to reach half its efficiency ceiling",
    "priors": "assumed values the fit is pulled toward, log-normal, one decade wide",
}
DATA_SIGMA = 0.1                    # expected relative model error per observation
PRIOR_SIGMA = math.log(10.0)        # one decade
UPPER = {"tensor_core_efficiency": 1.0, "active_power_fraction": 1.0}


@dataclass(frozen=True)
class Workload:
    name: str
    arch: Arch
    batch_size: int
    step_time_s: float
    energy_j_per_step: float
    flops_per_step: float


def calibration_archs() -> dict[str, tuple[Arch, int]]:
    """The three measured networks rebuilt from cosim.arch, with their batch sizes."""
    return {"mlp_784_256_128_10_b64": (mlp([784, 256, 128, 10], activation="relu"), 64),
            "dncnn17_64_p40_b128": (dncnn(17, 64, batch_norm=True, patch=40), 128),
            "resnet18_cifar_b128": (resnet(18, "cifar"), 128)}


def load_workloads(path: Path = MEASURED_FILE) -> list[Workload]:
    data = json.loads(Path(path).read_text())
    archs = calibration_archs()
    return [Workload(w["name"], *archs[w["name"]], w["step_time_s"], w["energy_j_per_step"],
                     w["flops_per_step"]) for w in data["workloads"]]


def _calibration(log_values: np.ndarray) -> Calibration:
    values = dict(zip(FITTED_NAMES, np.exp(log_values)))
    for name, upper in UPPER.items():
        values[name] = min(values[name], upper)
    return Calibration(FittedConstants(**values), ASSUMED)


def log_errors(cal: Calibration, workloads: list[Workload], gpu) -> np.ndarray:
    """ln(predicted / measured) of time and energy, two per workload."""
    out = []
    for w in workloads:
        est = estimate_step(w.arch, w.batch_size, gpu, cal)
        out += [math.log(est.time_s_per_step / w.step_time_s),
                math.log(est.energy_j_per_step / w.energy_j_per_step)]
    return np.array(out)


def _objective_residuals(log_values, workloads, gpu, log_prior) -> np.ndarray:
    data = log_errors(_calibration(log_values), workloads, gpu) / DATA_SIGMA
    return np.concatenate([data, (log_values - log_prior) / PRIOR_SIGMA])


def fit(workloads: list[Workload], gpu) -> Calibration:
    """Best of a few Levenberg-Marquardt runs; the max() terms make kinks where one start can
    stall (e.g. with host time below GPU time the host constant has zero gradient)."""
    log_prior = np.log([getattr(PRIORS, n) for n in FITTED_NAMES])
    starts = [log_prior + np.log(10.0) * np.array(shift) for shift in _START_SHIFTS]
    best = min((_levenberg_marquardt(x0, workloads, gpu, log_prior) for x0 in starts),
               key=lambda xr: float(xr[1] @ xr[1]))
    return _calibration(best[0])


# Start points, in decades away from the prior, per fitted constant (in FITTED_NAMES order).
_START_SHIFTS = [(0, 0, 0, 0, 0), (1, 0, 0, 0, 0), (0, -0.5, 0, 0, 0), (1, -0.5, -0.5, 0, 0.5)]


def _levenberg_marquardt(x, workloads, gpu, log_prior, iterations: int = 60):
    """Minimise the residuals in log-parameter space with a numerical Jacobian."""
    x, damping = _clip(x), 1e-2
    r = _objective_residuals(x, workloads, gpu, log_prior)
    for _ in range(iterations):
        jac = np.empty((len(r), len(x)))
        for j in range(len(x)):
            dx = np.zeros_like(x)
            dx[j] = 1e-4
            jac[:, j] = (_objective_residuals(x + dx, workloads, gpu, log_prior) - r) / 1e-4
        step = np.linalg.solve(jac.T @ jac + damping * np.eye(len(x)), -jac.T @ r)
        x_new = _clip(x + step)
        r_new = _objective_residuals(x_new, workloads, gpu, log_prior)
        if r_new @ r_new < r @ r:
            converged = abs(r @ r - r_new @ r_new) < 1e-10 * (1 + r @ r)
            x, r, damping = x_new, r_new, damping / 3
            if converged:
                break
        else:
            damping *= 10
    return x, r


def _clip(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    for name, upper in UPPER.items():
        i = FITTED_NAMES.index(name)
        x[i] = min(x[i], math.log(upper))
    return x


def residual_table(cal: Calibration, workloads: list[Workload], gpu) -> dict[str, dict[str, float]]:
    """Relative errors (predicted / measured - 1) and the FLOP-count ratio, per workload."""
    table = {}
    for w in workloads:
        est = estimate_step(w.arch, w.batch_size, gpu, cal)
        table[w.name] = {
            "time_rel_error": est.time_s_per_step / w.step_time_s - 1,
            "energy_rel_error": est.energy_j_per_step / w.energy_j_per_step - 1,
            "flops_ratio_model_over_measured": est.tensor_flops_per_step / w.flops_per_step,
            "predicted_time_s": est.time_s_per_step,
            "predicted_energy_j": est.energy_j_per_step,
        }
    return table


def leave_one_out(workloads: list[Workload], gpu) -> dict[str, dict[str, float]]:
    """Fit on all but one workload, predict the one left out."""
    out = {}
    for held in workloads:
        rest = [w for w in workloads if w is not held]
        cal = fit(rest, gpu)
        out[held.name] = residual_table(cal, [held], gpu)[held.name]
        out[held.name].pop("flops_ratio_model_over_measured")
    return out


def _rounded(table: dict) -> dict:
    return {k: {n: float(f"{v:.4g}") for n, v in row.items()} for k, row in table.items()}


def calibration_document(workloads: list[Workload], gpu) -> dict:
    cal = fit(workloads, gpu)
    return {
        "source": "python -m cosim.gpu.calibrate on hardware_specs/gpus/h200_measured.json "
                  "(H200 SXM, PyTorch eager, fp32 with TF32 convolutions, SGD momentum)",
        "gpu": "h200",
        "fitted_on": [w.name for w in workloads],
        "fitted": {n: float(f"{getattr(cal.fitted, n):.5g}") for n in FITTED_NAMES},
        "assumed": ASSUMED.model_dump(),
        "priors": PRIORS.model_dump(),
        "notes": NOTES,
        "residuals": _rounded(residual_table(cal, workloads, gpu)),
        "leave_one_out": _rounded(leave_one_out(workloads, gpu)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cosim.gpu.calibrate", description=__doc__)
    parser.add_argument("--measured", type=Path, default=MEASURED_FILE)
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    parser.add_argument("--check", action="store_true", help="print only; do not write --out")
    args = parser.parse_args(argv)
    document = calibration_document(load_workloads(args.measured), load_gpu("h200"))
    text = yaml.safe_dump(document, sort_keys=False, width=100)
    print(text)
    if not args.check:
        args.out.write_text("# Written by `python -m cosim.gpu.calibrate`; do not edit by hand.\n"
                            + text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
