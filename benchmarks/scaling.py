"""`python -m benchmarks.scaling`: wall time and memory of one priced training step against the
number of cells (memristor devices), 1e4 … 1e7.

One square weight matrix on 128×128 tiles; a step is a forward MVM and a transposed MVM of a
batch, an EaPU write plan for a random gradient and its programming through the chip, all as
SimPy processes with the ledger recording. Reported per size: best-of-`--repeat` step wall and CPU time,
device-state bytes (every array a DeviceArray keeps, over its devices), the traced peak of new
allocations during the step, and the log-log slope of CPU time against cells over the top decade (1 = linear). A cell
here is one device (a 1T1R cell); each weight is a differential pair of two.
"""
from __future__ import annotations

import argparse
import tracemalloc

import numpy as np

from benchmarks.common import best_of, default_specs, emit, progress
from cosim.hardware.chip import Chip
from cosim.nn.analog import AnalogMatrix
from cosim.rules import RuleContext, make_rule
from cosim.sim.clock import CountingEnvironment
from cosim.sim.ledger import Ledger

STATE_LIMIT_BYTES = 32


def device_state_bytes(matrix: AnalogMatrix) -> int:
    return sum(v.nbytes for v in vars(matrix.devices).values() if isinstance(v, np.ndarray))


class OneMatrix:
    def __init__(self, side: int, wl, hw, batch: int, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.env, self.ledger = CountingEnvironment(), Ledger()
        self.matrix = AnalogMatrix("w", self.rng.uniform(-0.3, 0.3, (side, side)), hw, 1.0, self.rng)
        self.matrix.devices.set_exact(self.rng.uniform(-0.3, 0.3, (side, side)))
        self.chip = Chip(self.env, hw, self.ledger, {"w": self.matrix})
        self.rule = make_rule("eapu", wl.rules)
        self.ctx = RuleContext(sigma_write=hw.device.write_noise, weight_bits=hw.bus.weight_bits)
        self.batch = batch

    def step(self):
        m = self.matrix
        m.matmul(self.rng.standard_normal((self.batch, m.in_features)))
        m.matmul_t(self.rng.standard_normal((self.batch, m.out_features)))
        (plan,) = self.rule.plan(0.01 * self.rng.standard_normal(m.in_features * m.out_features).reshape(
            m.in_features, m.out_features), self.ctx, self.rng)
        self.env.process(self._priced(list(m.ops), plan))
        m.ops.clear()
        self.env.run()

    def _priced(self, ops, plan):
        for op in ops:
            yield from self.chip.mvm(op)
        yield from self.chip.program("w", plan)


def measure(cells: int, wl, hw, batch: int, repeat: int) -> dict:
    side = int(round(np.sqrt(cells / 2)))          # two devices per weight
    bench = OneMatrix(side, wl, hw, batch)
    devices = bench.matrix.devices.x.size
    bench.step()                                    # warm-up
    times = best_of(repeat, bench.step)
    tracemalloc.start()
    bench.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    state = device_state_bytes(bench.matrix)
    return {"cells": devices, "weights": side * side, "tiles": bench.chip.tile_count,
            "step_wall_s": times["wall_s"], "step_cpu_s": times["cpu_s"], "cpu_s_per_cell": times["cpu_s"] / devices,
            "state_bytes_per_cell": state / devices, "step_peak_bytes_per_cell": peak / devices}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e4,1e5,1e6,1e7")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    wl, hw = default_specs(1)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    rows = []
    with progress(len(sizes), "scaling") as advance:
        for cells in sizes:
            rows.append(measure(cells, wl, hw, args.batch, args.repeat))
            advance()
    big = rows[-2:] if len(rows) > 1 else rows
    slope = float(np.polyfit(np.log([r["cells"] for r in big]), np.log([r["step_cpu_s"] for r in big]), 1)[0])
    emit({"benchmark": "scaling", "batch": args.batch, "sizes": rows,
          "cpu_time_slope_loglog_top_decade": slope,
          "max_state_bytes_per_cell": max(r["state_bytes_per_cell"] for r in rows),
          "state_limit_bytes_per_cell": STATE_LIMIT_BYTES,
          "meets_state_limit": max(r["state_bytes_per_cell"] for r in rows) <= STATE_LIMIT_BYTES})


if __name__ == "__main__":
    main()
