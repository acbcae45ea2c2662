"""Cost-only mode: energy, latency, writes and tiles of one training step and one inference of a
full-size network, with statistics in place of training numerics.

* Work per step comes from the layer shapes (cosim.nn.work): the same MVMs and host work
  a real step of the training core would ask for, replayed on the same SimPy Chip and Ledger.
* Programming is priced per tile from a **sample tile**: a real AnalogMatrix of that tile's
  shape, mapped at its layer's mapping scale s (the scale training maps the layer at: the same
  initial weights through the same policy, cosim.sim.assembly.initial_mapping_scales), its
  weights drawn uniform in ±2·mean_weight_fraction·s, receives one update ΔW ~ N(0, σ²) (σ set
  so that E|ΔW| = update_scale · weight_bound, weight units) through the rule and the real
  controller; a rule that accumulates (write_verify) starts from its accumulator's steady state
  under those updates. The sample's measured latency, pulses, verify reads and energies stand
  in for every tile of that shape and scale. One sample per (rule, tile shape, scale), drawn
  from the workload seed.
* Array read energy uses a stated input statistic: input_bit_density × the mean pair
  conductance of weights at mean_weight_fraction (no read numerics).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import simpy

from cosim.hardware.chip import Chip
from cosim.nn.analog import AnalogMatrix
from cosim.nn.work import StepWork, step_work
from cosim.arch import Arch
from cosim.registry import RULES
from cosim.rules import context_for, make_rule
from cosim.sim.assembly import initial_mapping_scales
from cosim.sim.ledger import Ledger
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec



def cost_only_methods() -> tuple[str, ...]:
    """Rules registered as priced from one sampled update (RuleEntry.cost_only; by default the
    stateless ones). Most rules that carry state across steps (mixed_precision's accumulator,
    tiki_taka's fast matrix) cannot be shown by one sampled update."""
    return tuple(entry.name for entry in RULES.entries() if entry.cost_only)


# Weight cells sampled per (rule, tile shape): 8 full 128x128 tiles, so a 5 % write fraction is
# estimated to about ±1 % (relative); small edge tiles get at most MAX_SAMPLES samples, since
# each sample costs a SimPy run whatever its size.
SAMPLE_CELLS = 2 ** 17
MAX_SAMPLES = 8
# Sample tiles are shared by layers whose mapping scales agree within a 5 % log-spaced bin; each
# samples at its bin's centre (≤ 2.5 % from a layer's own scale; the writes move less than that),
# so a network of 50 He-initialised layers needs a few sample sets per tile shape, not 50.
SCALE_BIN = 0.05


def binned_scale(scale: float) -> float:
    """The centre of the log-spaced SCALE_BIN bin holding `scale` (weight units)."""
    return float(np.exp(SCALE_BIN * np.round(np.log(scale) / SCALE_BIN)))


@dataclass
class TileProgramming:
    """What one update did to one sample tile: its programming transaction and write counts."""

    latency_s: float
    actions: dict[str, tuple[float, float]]     # action -> (count, J)
    mode: str                                    # the plan mode (it chose the Chip controller)
    plan_bits: float                             # bits of the write plan sent over the bus
    plan_cells: float                            # weight cells in the write plan
    host_draws: float                            # random numbers the host drew for the plan
    host_ops: float                              # other host ops the rule needed
    cells_written: float                         # weight cells that got >= 1 pulse
    device_writes: float
    pulses: float


@dataclass
class CostEstimate:
    """One method's cost-only result: ledgers of one training step and one inference."""

    method: str
    analog: bool
    tiles: int
    weights: int
    train_ledger: Ledger
    train_latency_s: float
    inference_ledger: Ledger
    inference_latency_s: float
    writes: dict = field(default_factory=dict)
    wall_s: float = 0.0


def update_sigma(update_scale: float, weight_bound: float) -> float:
    """σ of a zero-mean Gaussian ΔW whose mean magnitude is update_scale · weight_bound."""
    return update_scale * weight_bound * math.sqrt(math.pi / 2.0)


def expected_eapu_fraction(sigma: float, threshold: float) -> float:
    """E[min(1, |ΔW| / Δw_th)] for ΔW ~ N(0, σ²): the share of weights EaPU writes per step."""
    ratio = threshold / (sigma * math.sqrt(2.0))
    below = sigma * math.sqrt(2.0 / math.pi) * -math.expm1(-ratio * ratio) / threshold
    return below + math.erfc(ratio)


def mean_pair_conductance(hw: HardwareSpec, mean_weight_fraction: float) -> float:
    """G⁺ + G⁻ of a weight at the mean magnitude (the idle device sits at g_min), S."""
    return 2.0 * hw.device.g_min + mean_weight_fraction * hw.device.g_range


def sample_tile_programming(method: str, wl: WorkloadSpec, hw: HardwareSpec, shape: tuple[int, int],
                            rng: np.random.Generator, scale: float | None = None) -> TileProgramming:
    """Program one update into a real sample tile of `shape`, mapped at `scale` (weight units
    per device range; default training.weight_bound), and read what it cost."""
    stats = wl.cost_only
    scale = wl.training.weight_bound if scale is None else float(scale)
    sigma = update_sigma(stats.update_scale, wl.training.weight_bound)
    rule = make_rule(method, wl.rules)
    matrix = AnalogMatrix("sample", np.zeros(shape), hw, scale, rng)
    matrix.devices.set_exact(rng.uniform(-2.0, 2.0, shape) * stats.mean_weight_fraction)
    ctx = context_for("sample", matrix, hw, scale, 0.0)
    if hasattr(rule, "prime_steady_state"):      # an accumulating rule: from its steady state
        rule.prime_steady_state("sample", shape[0] * shape[1], ctx.verify_tolerance, sigma, rng)
    # The rules cost-only prices make one plan per update (cost_only_methods).
    (plan,) = rule.plan(rng.normal(0.0, sigma, shape), ctx, rng)
    env, ledger = simpy.Environment(), Ledger()
    ledger.step = 0
    chip = Chip(env, hw, ledger, {"sample": matrix})
    process = env.process(chip.program("sample", plan))
    env.run()
    outcome = process.value
    tx, acts = ledger.transactions(), ledger.actions()
    tx, acts = tx[tx.kind == "tile"], acts[acts.kind == "tile"]
    pulses = outcome.device_pulses
    cells = shape[0] * shape[1]
    return TileProgramming(
        latency_s=float((tx.end_ps - tx.start_ps).sum()) * 1e-12,
        actions={a: (float(g["count"].sum()), float(g.energy_j.sum())) for a, g in acts.groupby("action")},
        mode=plan.mode, plan_bits=chip.plan_bits(plan, shape[0] * shape[1]),
        plan_cells=int(plan.cells.size), host_draws=float(plan.host_draws), host_ops=float(plan.host_ops),
        cells_written=int(np.unique(outcome.devices[pulses > 0] % cells).size),
        device_writes=float(outcome.device_writes.sum()), pulses=float(pulses.sum()))


def mean_programming(samples: list[TileProgramming]) -> TileProgramming:
    """The average of several sample tiles' programming (same rule and shape)."""
    n = len(samples)
    actions: dict[str, tuple[float, float]] = {}
    for s in samples:
        for action, (count, energy) in s.actions.items():
            c, e = actions.get(action, (0.0, 0.0))
            actions[action] = (c + count / n, e + energy / n)
    means = {key: sum(getattr(s, key) for s in samples) / n
             for key in ("latency_s", "plan_bits", "plan_cells", "host_draws", "host_ops", "cells_written",
                         "device_writes", "pulses")}
    return TileProgramming(actions=actions, mode=samples[0].mode, **means)


class _Replay:
    """Runs a list of entries through a fresh Chip and Ledger; returns its latency."""

    def __init__(self, hw: HardwareSpec, matrices: dict):
        self.env, self.ledger = simpy.Environment(), Ledger()
        self.ledger.step = 0
        self.chip = Chip(self.env, hw, self.ledger, matrices)

    def run(self, process) -> float:
        self.env.process(process)
        self.env.run()
        return self.env.now * 1e-12



class CostModel:
    """Cost-only estimates of `wl`'s network on `hw`, one method at a time."""

    def __init__(self, wl: WorkloadSpec, hw: HardwareSpec):
        if wl.cost_only is None:
            raise ValueError("the workload has no cost_only section (update statistics)")
        supported = cost_only_methods()
        unsupported = [m for m in wl.methods if m not in supported]
        if unsupported:
            raise ValueError(f"cost-only mode cannot price {', '.join(unsupported)} (state carried across "
                             f"steps); it prices {', '.join(supported)}")
        # Transaction fidelity always: per-conversion events of a full-size network would take
        # hours, and both fidelities give the same totals (tests/test_fidelity.py).
        self.wl, self.hw = wl, hw.model_copy(update={"fidelity": "transaction"})
        self.arch: Arch = wl.network.build()
        # Per matrix, one mapping scale (a per-column mapping is priced at its columns' mean)
        self.scales = {name: float(np.mean(s)) for name, s in initial_mapping_scales(wl).items()}
        self._samples: dict[tuple, TileProgramming] = {}

    def eapu_threshold(self, scale: float | None = None) -> float:
        """EaPU's nominal step on this chip (weight units) for a matrix mapped at `scale`
        (default training.weight_bound), as the rule computes it."""
        scale = self.wl.training.weight_bound if scale is None else scale
        probe = AnalogMatrix("probe", np.zeros((1, 1)), self.hw, scale, np.random.default_rng(0))
        rule, ctx = make_rule("eapu", self.wl.rules), context_for("probe", probe, self.hw, scale, 0.0)
        n = rule.pulses(ctx)      # on a pulsed device the step is the whole pulse count nearest k·σ
        return float(rule.threshold(ctx) if n is None else n * ctx.pulse_step)

    def expected_eapu_fraction(self) -> float:
        """E[min(1, |ΔW|/Δw_th)] under the workload's update statistics (closed form), averaged
        over the weights of every matrix at its own mapping scale."""
        sigma = update_sigma(self.wl.cost_only.update_scale, self.wl.training.weight_bound)
        shapes = self._shapes(1, digital=False).matrices
        total = sum(m.weights for m in shapes.values())
        return sum(m.weights * expected_eapu_fraction(sigma, self.eapu_threshold(self.scale_of(name)))
                   for name, m in shapes.items()) / total

    def scale_of(self, name: str) -> float:
        """The mapping scale training gives matrix `name`."""
        if name not in self.scales:
            raise KeyError(f"cost-only: matrix {name!r} has no mapping scale (network build names: "
                           f"{', '.join(self.scales)})")
        return self.scales[name]

    def _shapes(self, batch: int, digital: bool) -> StepWork:
        stats = self.wl.cost_only
        return step_work(self.arch, batch, self.hw, stats.input_bit_density,
                         mean_pair_conductance(self.hw, stats.mean_weight_fraction), digital,
                         self.wl.training.backward_on == "host", self.wl.input_nonnegative)

    def sample(self, method: str, shape: tuple[int, int], scale: float | None = None) -> TileProgramming:
        scale = binned_scale(self.wl.training.weight_bound if scale is None else scale)
        key = (method, shape, scale)
        if key not in self._samples:
            # Seeded by (workload seed, rule name, shape): a sample depends neither on what ran
            # before nor on where the rule sits in the registry.
            rng = np.random.default_rng([self.wl.seed, RULES[method].seed, *shape])
            repeats = min(MAX_SAMPLES, -(-SAMPLE_CELLS // (shape[0] * shape[1])))
            self._samples[key] = mean_programming([sample_tile_programming(method, self.wl, self.hw, shape, rng, scale)
                                                   for _ in range(repeats)])
        return self._samples[key]

    def estimate(self, method: str) -> CostEstimate:
        started = time.perf_counter()
        rule = make_rule(method, self.wl.rules)
        shapes = self._shapes(self.wl.training.batch_size, digital=not rule.analog)
        matrices = shapes.matrices if rule.analog else {}
        train = _Replay(self.hw, matrices)
        writes = {"plan_cells": 0.0, "cells_written": 0.0, "device_writes": 0.0, "pulses": 0.0}
        latency = train.run(self._train_step(train, shapes, method, rule, writes))
        infer_shapes = self._shapes(1, digital=not rule.analog)
        inference = _Replay(self.hw, matrices)
        infer_latency = inference.run(inference.chip.replay(infer_shapes.forward))
        writes["fraction_updated"] = writes["cells_written"] / shapes.weights
        return CostEstimate(method, rule.analog, train.chip.tile_count, shapes.weights, train.ledger,
                            latency, inference.ledger, infer_latency, writes,
                            time.perf_counter() - started)

    def _train_step(self, replay: _Replay, shapes: StepWork, method: str, rule, writes: dict):
        yield from replay.chip.replay(shapes.records)
        for name, matrix in shapes.matrices.items():
            if not rule.analog:
                yield from replay.chip.host_work("update_rule", 0.0, matrix.weights)
                writes["cells_written"] += matrix.weights     # digital SGD writes every weight
                continue
            yield from self._program(replay, name, matrix, method, writes)
        yield from replay.chip.host_work("host_param_update", 0.0, 2.0 * shapes.host_params)

    def _program(self, replay: _Replay, name: str, matrix, method: str, writes: dict):
        """The rule's host work, then every tile of `matrix` programmed as its shape's sample was."""
        scale = self.scale_of(name)
        samples = [self.sample(method, shape, scale) for shape in matrix.tile_map.tile_shapes()]
        yield from replay.chip.host_work("update_rule", 0.0, matrix.weights + sum(s.host_ops for s in samples),
                                         sum(s.host_draws for s in samples))
        for key in ("plan_cells", "cells_written", "device_writes", "pulses"):
            writes[key] += sum(getattr(s, key) for s in samples)
        yield from replay.chip.program_tiles(name, samples[0].mode, sum(s.plan_bits for s in samples),
                                             [(s.latency_s, s.actions) for s in samples])


class _RecordingRule:
    """Wraps an update rule and accumulates |ΔW| of every plan it is asked for."""

    def __init__(self, rule):
        self.rule, self.name, self.analog = rule, rule.name, rule.analog
        self.abs_sum, self.count = 0.0, 0

    def plan(self, delta_w, ctx, rng):
        self.abs_sum += float(np.abs(delta_w).sum())
        self.count += delta_w.size
        return self.rule.plan(delta_w, ctx, rng)


def measure_update_scale(wl: WorkloadSpec, hw: HardwareSpec) -> float:
    """Mean |lr·∂L/∂W| / weight_bound over a real ideal-rule training run of `wl` (which needs
    data): the measured source of a cost-only workload's update_scale."""
    from cosim.sim.training import Trainer
    from cosim.nn.tasks import load_task

    trainer = Trainer("ideal", wl, hw, load_task(wl.data, wl.network.build().input_shape))
    trainer.state.rule = recorder = _RecordingRule(trainer.state.rule)
    trainer.train()
    return recorder.abs_sum / recorder.count / wl.training.weight_bound


def estimate_costs(wl: WorkloadSpec, hw: HardwareSpec, methods=None, progress=None) -> list[CostEstimate]:
    """Cost-only estimates for each of `methods` (default: the workload's)."""
    model = CostModel(wl, hw)
    out = []
    for method in methods or wl.methods:
        out.append(model.estimate(method))
        if progress:
            progress(method)
    return out
