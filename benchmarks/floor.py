"""`python -m benchmarks.floor`: how much of a training step is the compiled numerics alone, the
bound below which no rewrite of the Python around them can take the step at this fidelity.

One method (default eapu) of one case of benchmarks.step_time (default the digits MLP, exact
numerics) trains `--steps` steps three times in this process: a warm-up (numba compiles every
kernel the run needs), a plain run (the step time), and a run with every numba kernel that cosim
calls from Python wrapped in a timer and the shapes of the analog products' GEMMs (digit planes @
[W | σ²]) recorded. Those GEMMs are then timed alone on float32 operands of the same shapes (a
0/1 plane, as the digit planes are). Steps are timed between the trainer's progress callbacks,
first and last left out, as in step_time (CPU time); kernels and GEMMs by the wall clock (one
thread each, so the same on an idle machine); one BLAS thread.

One JSON line: per step, the whole step, each kernel and the GEMMs (ms), their sum `floor_ms`
(the analog numerics and device writes: what the step must compute whatever drives it), the rest
(`glue_ms`: Python, numpy's small calls, SimPy, the ledger), the bare FP32 step of the same net
and every ratio to it, beside issue 14's MLP targets (0.7 ms and 10x bare FP32).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict

import numpy as np

from benchmarks.common import emit
from benchmarks.step_time import CASES, bare_fp32_s_per_step
from cosim.api import with_overrides
from cosim.nn.tasks import load_task
from cosim.sim.training import Trainer
from cosim.specs.base import resolve_path
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload

TARGET_MS, TARGET_RATIO = 0.7, 10.0     # issue 14, digits MLP, exact fidelity, eapu


def make_trainer(case: str, method: str, steps: int) -> Trainer:
    """step_time's trainer: the case's workload, one method, no evaluation or retention checks."""
    wl = with_overrides(load_workload(resolve_path(CASES[case][0])), steps=steps, methods=[method])
    wl = wl.model_copy(update={"training": wl.training.model_copy(
        update={"eval_every": 10 ** 6, "retention_checks": []})})
    hw = load_hardware(resolve_path("hardware_specs/rram_180nm.yaml"))
    return Trainer(method, wl, hw, load_task(wl.data, wl.network.build().input_shape))


def cpu_s_per_step(trainer: Trainer, on_window=None) -> float:
    """Train; CPU s per step between the progress callbacks, the first and last step left out.
    `on_window(opened)` is called when the timed window opens (True) and closes (False)."""
    marks = []
    steps = trainer.wl.training.steps

    def mark():
        marks.append(time.process_time())
        if on_window and len(marks) in (1, steps - 1):
            on_window(len(marks) == 1)
    trainer.progress = mark
    trainer.train()
    return (marks[-2] - marks[0]) / (len(marks) - 2)


class KernelTimers:
    """Replaces every numba dispatcher bound in a loaded cosim module by a wrapper that adds its
    wall time per kernel while `on`, and records the GEMM shapes of the analog products. Kernels
    must be compiled before (their calls into each other are resolved at compile time, to the
    dispatchers, not to the wrappers)."""

    def __init__(self):
        from numba.core.registry import CPUDispatcher

        self.on = False
        self.seconds: Counter = Counter()
        self.gemms: Counter = Counter()     # (vectors·slices, rows, columns) -> products
        self._plane = None
        self._undo = []
        for name, module in list(sys.modules.items()):
            if not name.startswith("cosim."):
                continue
            for attr, value in list(vars(module).items()):
                if isinstance(value, CPUDispatcher):
                    self._replace(module, attr, self._timed(value, value.py_func.__qualname__))
        import cosim.nn.analog as analog
        self._replace(analog, "digit_planes", self._planes(analog.digit_planes))
        self._replace(analog, "adc_accumulate", self._products(analog.adc_accumulate))

    def window(self, opened: bool) -> None:
        """cpu_s_per_step's `on_window`: time only the steps it times."""
        self.on = opened

    def _replace(self, module, attr, wrapper):
        self._undo.append((module, attr, getattr(module, attr)))
        setattr(module, attr, wrapper)

    def restore(self):
        for module, attr, value in reversed(self._undo):
            setattr(module, attr, value)

    def _timed(self, kernel, label):
        def timed(*args):
            started = time.perf_counter()
            result = kernel(*args)
            if self.on:
                self.seconds[label] += time.perf_counter() - started
            return result
        return timed

    def _planes(self, digit_planes):
        def planes(codes, bits, slices, plane, *rest, **kw):
            n = digit_planes(codes, bits, slices, plane, *rest, **kw)
            self._plane = (n, plane.shape[1])
            return n
        return planes

    def _products(self, adc_accumulate):
        def products(current, variance, *rest, **kw):
            if self.on and self._plane is not None:       # the plane's product(s) just computed
                n, rows = self._plane
                self.gemms[(n, rows, current.shape[1])] += 1
                if variance.shape[0] and variance is not current:
                    self.gemms[(n, rows, variance.shape[1])] += 1
            self._plane = None
            return adc_accumulate(current, variance, *rest, **kw)
        return products


def gemm_seconds(shape: tuple[int, int, int], rng: np.random.Generator, repeat: int = 50) -> float:
    """Smallest s of one float32 product (n, rows) 0/1 @ (rows, cols), as the digit planes'."""
    n, rows, cols = shape
    plane = (rng.random((n, rows)) < 0.5).astype(np.float32)
    weights = rng.random((rows, cols)).astype(np.float32)
    best = np.inf
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(10):
            plane @ weights
        best = min(best, (time.perf_counter() - started) / 10)
    return best


def gemm_summary(gemms: Counter, steps: int) -> dict:
    """Per weight block (rows x columns of [W | σ²]): products per step and their mean plane rows
    (vector-slices with a non-zero digit)."""
    count, rows = defaultdict(int), defaultdict(int)
    for (n, r, c), k in gemms.items():
        count[f"{r}x{c}"] += k
        rows[f"{r}x{c}"] += n * k
    return {block: {"per_step": count[block] / steps, "mean_plane_rows": rows[block] / count[block]}
            for block in sorted(count)}


def measure(case: str, method: str, steps: int) -> dict:
    cpu_s_per_step(make_trainer(case, method, steps))                 # compiles the kernels
    step = cpu_s_per_step(make_trainer(case, method, steps))
    timers = KernelTimers()
    try:
        cpu_s_per_step(make_trainer(case, method, steps), timers.window)
    finally:
        timers.restore()
    timed_steps = steps - 2
    kernels = {k: 1e3 * s / timed_steps for k, s in sorted(timers.seconds.items(), key=lambda kv: -kv[1])}
    rng = np.random.default_rng(0)
    gemm = 1e3 * sum(count * gemm_seconds(shape, rng) for shape, count in timers.gemms.items()) / timed_steps
    floor = sum(kernels.values()) + gemm
    bare = 1e3 * bare_fp32_s_per_step(case, steps)
    return {"step_ms": 1e3 * step, "kernels_ms": kernels, "gemm_ms": gemm,
            "gemms": gemm_summary(timers.gemms, timed_steps),
            "floor_ms": floor, "glue_ms": 1e3 * step - floor, "bare_fp32_ms": bare,
            "step_ratio_to_bare": 1e3 * step / bare, "floor_ratio_to_bare": floor / bare}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="mlp", choices=sorted(CASES))
    parser.add_argument("--method", default="eapu")
    parser.add_argument("--steps", type=int, help="default: step_time's for the case (MLP 300, denoise 8)")
    args = parser.parse_args(argv)
    args.steps = args.steps or CASES[args.case][1]
    if args.steps < 4:
        parser.error("--steps: at least 4 (the first and last step are left out of the timing)")
    record = {"benchmark": "floor", "case": args.case, "method": args.method, "steps": args.steps,
              **measure(args.case, args.method, args.steps)}
    if args.case == "mlp":
        record["targets"] = {"step_ms": TARGET_MS, "ratio_to_bare": TARGET_RATIO}
    emit(record)


if __name__ == "__main__":
    main()
