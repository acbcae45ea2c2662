"""The training loop as a SimPy process: numerics at each step's simulated time, then every
operation the step asked of the hardware replayed as priced, timed transactions.

Per step: forward (tile MVMs, host activations), loss, backward (transposed MVMs or host, host
weight gradients), the rule's write plans through the controllers, host-parameter updates.
The test set is evaluated every `eval_every` steps as a measurement: it is not priced.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from cosim.devices.programming import program_verify
from cosim.hardware.chip import Chip
from cosim.nn.arch import build_arch
from cosim.nn.data import BatchStream, Dataset
from cosim.nn.matrix import DigitalMatrix
from cosim.rules import RuleContext, make_rule
from cosim.sim.clock import CountingEnvironment, Pause
from cosim.sim.ledger import Ledger
from cosim.nn.losses import SoftmaxCrossEntropy
from cosim.sim.network import build_mlp, initial_weights, make_matrices
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec


@dataclass
class MethodRun:
    """Everything one method's training produced (numbers only; reporting happens elsewhere)."""

    method: str
    analog: bool
    steps: int
    eval_steps: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    loss: np.ndarray = None
    cells_written: np.ndarray = None       # weight cells that got >= 1 pulse (or digital write), per step
    device_writes: np.ndarray = None       # device write cycles per step
    pulses: np.ndarray = None              # programming pulses per step
    events: np.ndarray = None              # SimPy events scheduled per step
    ledger: Ledger = None
    weights: int = 0
    tiles: int = 0
    setup_end_ps: int = 0
    end_ps: int = 0
    training_writes: np.ndarray = None     # per device, writes during training (setup excluded)
    endurance: np.ndarray = None           # per device
    write_maps: dict = field(default_factory=dict)   # matrix -> per-weight writes of both devices
    wall_s: float = 0.0


def seed_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators per purpose, so methods share data order and initial weights."""
    names = ["data", "init", "devices", "rule"]
    return dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(names)))))


class Trainer:
    def __init__(self, method: str, workload: WorkloadSpec, hw: HardwareSpec, data: Dataset,
                 progress=None, chunk_steps: int = 1):
        self.method, self.wl, self.hw, self.data = method, workload, hw, data
        self.rule = make_rule(method, workload.rules)
        self.progress, self.chunk_steps = progress, chunk_steps
        streams = seed_streams(workload.seed)
        self.rule_rng = streams["rule"]
        arch = build_arch(workload.network.arch, **workload.network.params)
        weights = initial_weights(arch, streams["init"])
        self.matrices = make_matrices(weights, self.rule.analog, hw, workload.training.weight_bound,
                                      streams["devices"])
        self.net = build_mlp(arch, self.matrices)
        self.loss = SoftmaxCrossEntropy()
        self.batches = BatchStream(data.x_train, data.y_train, workload.training.batch_size, streams["data"])
        self.env = CountingEnvironment()
        self.ledger = Ledger()
        self.chip = Chip(self.env, hw, self.ledger, self.matrices if self.rule.analog else {})
        self.ctx = RuleContext(sigma_write=hw.device.write_noise * workload.training.weight_bound,
                               weight_bits=hw.bus.weight_bits)
        steps = workload.training.steps
        self.run = MethodRun(method, self.rule.analog, steps, loss=np.zeros(steps),
                             cells_written=np.zeros(steps), device_writes=np.zeros(steps),
                             pulses=np.zeros(steps), events=np.zeros(steps, dtype=np.int64), ledger=self.ledger,
                             weights=sum(m.in_features * m.out_features for m in self.matrices.values()),
                             tiles=self.chip.tile_count)
        self._initial = weights

    # ----- driving the simulation ----------------------------------------------------------------
    def train(self) -> MethodRun:
        started = time.perf_counter()
        self._pause = Pause(self.env)
        process = self.env.process(self._trainer())
        while process.is_alive:
            self.env.run(until=self._pause)
        self.run.end_ps = self.env.now
        self._collect_wear()
        self.run.wall_s = time.perf_counter() - started
        return self.run

    def _trainer(self):
        yield from self._setup()
        steps, every = self.wl.training.steps, self.wl.training.eval_every
        for step in range(steps):
            self.ledger.step = step
            scheduled = self.env.events_scheduled
            yield from self._train_step(step)
            self.run.events[step] = self.env.events_scheduled - scheduled
            if (step + 1) % every == 0 or step == steps - 1:
                self._evaluate(step + 1)
            if self.progress:
                self.progress()
            if (step + 1) % self.chunk_steps == 0 or step == steps - 1:
                pause, self._pause = self._pause, Pause(self.env)
                pause.succeed()

    def _setup(self):
        """Place the initial weights by write-verify from fresh devices (priced as step -1)."""
        if self.rule.analog:
            wv = self.hw.write_verify
            for name, matrix in self.matrices.items():
                target = self._initial[name] / matrix.weight_bound
                devices = np.arange(matrix.devices.x.size)
                goal = np.concatenate([np.clip(target, 0, 1).ravel(), np.clip(-target, 0, 1).ravel()])
                outcome = program_verify(matrix.devices, devices, goal, wv.tolerance, wv.max_iterations,
                                         wv.max_pulses_per_iteration, wv.reads_per_verify, 0.0)
                yield from self.chip.program_initial(name, outcome)
            self.setup_writes = {n: m.devices.write_count.copy() for n, m in self.matrices.items()}
        self.run.setup_end_ps = self.env.now
        self._evaluate(0)

    # ----- one step -------------------------------------------------------------------------------
    def _train_step(self, step: int):
        x, labels = self.batches.next()
        tape = []
        h = x
        for layer in self.net.layers:
            h = layer.forward(h, train=True)
            tape.extend(self._drain(layer, "forward"))
        self.run.loss[step], grad = self.loss(h, labels)
        tape.append(("host", "loss", *self.loss.host_ops.take()))
        for layer in reversed(self.net.layers):
            grad = layer.backward(grad)
            tape.extend(self._drain(layer, "backward"))
        for entry in tape:
            yield from self._execute(entry)
        yield from self._update(step)

    def _drain(self, layer, phase: str) -> list:
        """The operations `layer` just asked for, in order: tile MVMs, then host work."""
        entries = []
        for param in layer.matrix_params():
            matrix = param.matrix
            if isinstance(matrix, DigitalMatrix):
                entries.append(("host", f"{phase}_matmul", matrix.macs, 0.0))
                matrix.macs = 0.0
            else:
                entries.extend(("mvm", op) for op in matrix.ops)
                matrix.ops.clear()
        macs, ops = layer.host_ops.take()
        entries.append(("host", phase, macs, ops))
        return entries

    def _execute(self, entry):
        if entry[0] == "mvm":
            yield from self.chip.mvm(entry[1])
        else:
            yield from self.chip.host_work(entry[1], entry[2], entry[3])

    def _update(self, step: int):
        lr = self.wl.training.learning_rate
        for param in self.net.matrix_params():
            plan = self.rule.plan(-lr * param.grad, self.ctx, self.rule_rng)
            yield from self.chip.host_work("update_rule", 0.0, param.grad.size, plan.host_draws)
            if plan.mode == "digital":
                param.matrix.apply_update(_dense(plan, param.grad.shape))
                self.run.cells_written[step] += plan.cells.size
                continue
            controller = "verify" if plan.mode == "verify" else ("eapu" if self.method == "eapu" else "open_loop")
            outcome = yield from self.chip.program(param.name, plan, controller)
            self._count_writes(step, outcome, param.matrix)
        host = self.net.host_params()
        for p in host:
            p.value -= lr * p.grad
        yield from self.chip.host_work("host_param_update", 0.0, 2.0 * sum(p.value.size for p in host))

    def _count_writes(self, step: int, outcome, matrix) -> None:
        pulses = outcome.device_pulses
        cells = matrix.in_features * matrix.out_features
        written = np.zeros(cells, dtype=bool)     # a mask, not np.unique: no sort (hot path)
        written[outcome.devices[pulses > 0] % cells] = True
        self.run.cells_written[step] += np.count_nonzero(written)
        self.run.device_writes[step] += float(outcome.device_writes.sum())
        self.run.pulses[step] += float(pulses.sum())

    # ----- measurement ----------------------------------------------------------------------------
    def _evaluate(self, step: int) -> None:
        for m in self.matrices.values():
            m.record = False
        logits = self.net.forward(self.data.x_test, train=False)
        for m in self.matrices.values():
            m.record = True
        self.net.take_host_ops()   # evaluation's host work is not priced either
        self.run.eval_steps.append(step)
        self.run.accuracy.append(float((logits.argmax(axis=1) == self.data.y_test).mean()))

    def _collect_wear(self) -> None:
        if not self.rule.analog:
            return
        writes, endurance = [], []
        for name, m in self.matrices.items():
            trained = (m.devices.write_count - self.setup_writes[name]).astype(np.float64)
            writes.append(trained.ravel())
            endurance.append(m.devices.endurance.ravel())
            self.run.write_maps[name] = trained.sum(axis=0)
        self.run.training_writes = np.concatenate(writes)
        self.run.endurance = np.concatenate(endurance)


def _dense(plan, shape) -> np.ndarray:
    delta = np.zeros(int(np.prod(shape)))
    delta[plan.cells] = plan.delta
    return delta.reshape(shape)
