"""The training loop as a SimPy process: numerics at each step's simulated time, then every
operation the step asked of the hardware replayed as priced, timed transactions.

Per step: forward (tile MVMs, host work), loss, backward (transposed MVMs, host weight
gradients), the rule's write plans through the controllers, host-parameter updates. Any network
cosim.nn.build can build trains here; its work is replayed in the order it ran (cosim.sim.tape).
The test set is evaluated every `eval_every` steps as a measurement: it is not priced and draws
its read noise from its own generator, so how often one measures never changes the training.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from cosim.devices.mapping import mapping_scale
from cosim.devices.programming import program_verify
from cosim.costs.actions import to_ps
from cosim.hardware.chip import Chip
from cosim.nn.analog import AnalogMatrix
from cosim.nn.build import build_network
from cosim.nn.data import BatchStream
from cosim.nn.matrix import DigitalMatrix
from cosim.nn.tasks import Task
from cosim.rules import FAST, context_for, make_rule
from cosim.sim.checkpoint import Checkpoint, restore_state
from cosim.sim.clock import CountingEnvironment, Pause
from cosim.sim.layer_figures import layer_figures
from cosim.sim.ledger import Ledger
from cosim.sim.tape import Tape
from cosim.sim.wear import WriteStats, collect_wear
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec

# Test samples per evaluation forward pass: bounds the memory of im2col on image networks.
EVAL_BATCH = 64
EVAL_STREAM = 0xE7A1   # seed-sequence key of the per-evaluation read-noise generators


@dataclass
class MethodRun:
    """Everything one method's training produced (numbers only; reporting happens elsewhere)."""

    method: str
    analog: bool
    steps: int
    metric: str = "test_accuracy"         # headline test metric (see cosim.nn.tasks)
    eval_steps: list[int] = field(default_factory=list)
    scores: list[dict] = field(default_factory=list)   # test metrics at each evaluation step
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
    steady_writes: np.ndarray = None       # per device, writes in the second half of training
    steady_steps: int = 0                  # steps in that second half
    layers: dict = field(default_factory=dict)       # per analog matrix: mapping, σ, Δw_th, ADC (sim.layer_figures)
    endurance: np.ndarray = None           # per device
    write_maps: dict = field(default_factory=dict)   # matrix -> per-weight writes of both devices
    write_stats: WriteStats = None         # programming latency per step, verify iterations, faults
    retention: dict = field(default_factory=dict)    # delay after training (s) -> test metric
    inference: dict = field(default_factory=dict)    # priced test-set forward pass on the trained chip
    wall_s: float = 0.0

    @property
    def metric_values(self) -> list[float]:
        return [score[self.metric] for score in self.scores]


def seed_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators per purpose, so methods share data order and initial weights."""
    names = ["data", "init", "devices", "rule", "eval"]
    return dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(names)))))


class Trainer:
    def __init__(self, method: str, workload: WorkloadSpec, hw: HardwareSpec, task: Task,
                 progress=None, chunk_steps: int = 1, checkpoint: Checkpoint | None = None):
        self.method, self.wl, self.hw, self.task = method, workload, hw, task
        self.rule = make_rule(method, workload.rules)
        self.progress, self.chunk_steps, self.checkpoint = progress, chunk_steps, checkpoint
        self.start_step = 0
        streams = seed_streams(workload.seed)
        self.rule_rng, self.eval_rng, self.device_rng = streams["rule"], streams["eval"], streams["devices"]
        self.matrices, self._initial = {}, {}
        arch = workload.network.build()
        self.net = build_network(arch, self._matrix_maker(self.device_rng), streams["init"],
                                 input_grad=False)
        self.tape = Tape(self.net.take_host_ops)
        for matrix in self.matrices.values():
            matrix.ops = self.tape
            matrix.backward_on_host = workload.training.backward_on == "host"
        if getattr(self.rule, "fast_matrix", False):   # tiki_taka's fast matrices get tiles of their own
            self._add_fast_matrices()
        self.batches = BatchStream(task.x_train, task.y_train, workload.training.batch_size, streams["data"])
        self.env = self.make_env()
        self.ledger = Ledger()
        self.chip = self.make_chip()
        steps = workload.training.steps
        self.run = MethodRun(method, self.rule.analog, steps, metric=task.metric, loss=np.zeros(steps),
                             cells_written=np.zeros(steps), device_writes=np.zeros(steps),
                             pulses=np.zeros(steps), events=np.zeros(steps, dtype=np.int64), ledger=self.ledger,
                             weights=sum(m.in_features * m.out_features for n, m in self.matrices.items()
                                         if not n.endswith(FAST)),
                             tiles=self.chip.tile_count, write_stats=WriteStats(steps))

    def _matrix_maker(self, device_rng: np.random.Generator):
        """make_matrix for build_network: the same initial weights, digital or on tiles."""
        training = self.wl.training
        mapping = training.mapping

        def make(name: str, w_init: np.ndarray):
            if self.rule.analog:
                scale = mapping_scale(w_init, mapping.policy, mapping.headroom, mapping.granularity,
                                      training.weight_bound)
                matrix = AnalogMatrix(name, w_init, self.hw, scale, device_rng)
            else:
                matrix = DigitalMatrix(w_init)
            self.matrices[name], self._initial[name] = matrix, w_init
            return matrix
        return make

    def make_env(self, now_ps: int = 0) -> CountingEnvironment:
        """The SimPy environment, starting at `now_ps` (a resumed run starts where it stopped)."""
        return CountingEnvironment(initial_time=now_ps)

    def make_chip(self) -> Chip:
        return Chip(self.env, self.hw, self.ledger, self.matrices if self.rule.analog else {})

    def restore(self, data: dict) -> int:
        """Continue from a checkpoint's state (see cosim.sim.checkpoint); returns the steps done."""
        self.start_step = restore_state(self, data)
        return self.start_step

    def _add_fast_matrices(self) -> None:
        """A zero-weight analog twin `<name>.fast` of every matrix; its reads are drained in _update."""
        for name, m in list(self.matrices.items()):
            self.matrices[name + FAST] = AnalogMatrix(name + FAST, np.zeros((m.in_features, m.out_features)),
                                                      self.hw, m.weight_bound, self.device_rng)

    # ----- driving the simulation ----------------------------------------------------------------
    def train(self) -> MethodRun:
        started = time.perf_counter()
        self._pause = Pause(self.env)
        process = self.env.process(self._trainer())
        while process.is_alive:
            self.env.run(until=self._pause)
        self.run.end_ps = self.env.now
        self._collect_wear()
        if self.rule.analog:
            self.run.layers = layer_figures(self.matrices, self.hw, self.rule)
        self.run.inference = self._price_inference()   # before retention checks let devices drift
        self._check_retention()
        self.run.wall_s += time.perf_counter() - started
        return self.run

    def _trainer(self):
        if self.start_step == 0:
            yield from self._setup()
        steps, every = self.wl.training.steps, self.wl.training.eval_every
        period_ps = to_ps(self.wl.training.step_period) if self.wl.training.step_period else 0
        for step in range(self.start_step, steps):
            self.ledger.step = step
            if step == steps // 2 and self.rule.analog:   # lifetime: steady-state rates from here
                self.steady_writes = {n: m.devices.write_count.copy() for n, m in self.matrices.items()}
            scheduled, started = self.env.events_scheduled, self.env.now
            yield from self._train_step(step)
            if self.env.now - started < period_ps:       # idle until the step period is over
                yield self.env.timeout(period_ps - (self.env.now - started))
            self.run.events[step] = self.env.events_scheduled - scheduled
            if (step + 1) % every == 0 or step == steps - 1:
                self._evaluate(step + 1)
            if self.progress:
                self.progress()
            if self.checkpoint and self.checkpoint.due(step + 1, steps):
                # Every transaction of the step has finished: the simulation is idle here.
                self.checkpoint.save_state(self, step + 1)
            if (step + 1) % self.chunk_steps == 0 or step == steps - 1:
                pause, self._pause = self._pause, Pause(self.env)
                pause.succeed()

    def _setup(self):
        """Place the initial weights by write-verify from fresh devices (priced as step -1)."""
        if self.rule.analog:
            wv = self.hw.write_verify
            for name, matrix in self.matrices.items():
                if name not in self._initial:
                    continue   # auxiliary matrices start at zero weight: fresh devices, nothing to place
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
        if step and step % self.hw.adc.recalibrate_every == 0:
            for m in self.matrices.values():
                if isinstance(m, AnalogMatrix):
                    m.recalibrate = {"forward": True, "backward": True}
        x, target = self.batches.next()
        tape = self.tape
        tape.phase = "forward"
        output = self.net.forward(x, train=True)
        tape.flush_host()
        self.run.loss[step], grad = self.net.loss_and_grad(output, target)
        tape.flush_host("loss")
        tape.phase = "backward"
        self.net.backward(grad)
        tape.flush_host()
        yield from self.chip.replay(tape.take())
        yield from self._update(step)

    def _update(self, step: int):
        lr = self.wl.training.learning_rate
        for param in self.net.matrix_params():
            fast = self.matrices.get(param.name + FAST)
            ctx = context_for(param.name, param.matrix, self.hw, self.wl.training.weight_bound,
                              self.chip.clock_s(), fast)
            plans = self.rule.plan(-lr * param.grad, ctx, self.rule_rng)
            yield from self.chip.host_work("update_rule", 0.0, param.grad.size + sum(p.host_ops for p in plans),
                                           sum(p.host_draws for p in plans))
            if fast is not None:        # reads the rule made of its fast matrix, priced as MVMs
                yield from self.chip.replay(fast.ops)
                fast.ops.clear()
            for plan in plans:
                yield from self._apply_plan(step, param, plan)
        host = self.net.host_params()
        for p in host:
            p.value -= lr * p.grad
        yield from self.chip.host_work("host_param_update", 0.0, 2.0 * sum(p.value.size for p in host))

    def _apply_plan(self, step: int, param, plan):
        if plan.mode == "digital":
            param.matrix.apply_update(_dense(plan, param.grad.shape))
            self.run.cells_written[step] += plan.cells.size
            return
        name = param.name + plan.target
        started = self.env.now
        outcome = yield from self.chip.program(name, plan)
        self.run.write_stats.add_program_time(step, (self.env.now - started) * 1e-12)
        self._count_writes(step, outcome, self.matrices[name], counts_as_update=not plan.target)

    def _count_writes(self, step: int, outcome, matrix, counts_as_update: bool = True) -> None:
        pulses = outcome.device_pulses
        cells = matrix.in_features * matrix.out_features
        if counts_as_update:    # fraction updated counts the trained weights, not auxiliary ones
            written = np.zeros(cells, dtype=bool)     # a mask, not np.unique: no sort (hot path)
            written[outcome.devices[pulses > 0] % cells] = True
            self.run.cells_written[step] += np.count_nonzero(written)
        self.run.device_writes[step] += float(outcome.device_writes.sum())
        self.run.pulses[step] += float(pulses.sum())
        self.run.write_stats.add_outcome(outcome)

    # ----- measurement ----------------------------------------------------------------------------
    def _evaluate(self, step: int) -> None:
        self.run.eval_steps.append(step)
        # Read noise of each evaluation from a generator of its own step, so how often one
        # measures changes neither the training nor any later evaluation.
        self.run.scores.append(self._measure(np.random.default_rng([self.wl.seed, EVAL_STREAM, step])))

    def _measure(self, rng: np.random.Generator | None = None) -> dict:
        """Test-set scores of the network as the hardware holds it now (unpriced); read noise
        from `rng` (default: the evaluation generator)."""
        self._measuring(True, rng)
        x = self.task.x_test
        outputs = np.concatenate([self.net.forward(x[i:i + EVAL_BATCH], train=False)
                                  for i in range(0, len(x), EVAL_BATCH)])
        self._measuring(False)
        return self.task.scores(outputs)

    def _check_retention(self) -> None:
        """Test metric after the trained devices sit idle for each configured delay."""
        end_s = self.env.now * 1e-12
        for delay in sorted(self.wl.training.retention_checks):
            for m in self.matrices.values():
                if isinstance(m, AnalogMatrix):
                    m.devices.advance_to(end_s + delay)
            self.run.retention[delay] = self._measure()[self.run.metric]

    def _price_inference(self) -> dict:
        """One priced forward pass over the test set on the trained chip, on a fresh clock and
        ledger (so training totals stay as they were). Read noise comes from the evaluation
        generator. Per test sample the DAC, ADC, bus and host counts are the same for every
        method; what can differ is the array-read energy (V²·G·t over the trained conductances)
        and the number of input phases (signed activations need a second phase)."""
        env, ledger = CountingEnvironment(), Ledger()
        ledger.step = 0
        chip = Chip(env, self.hw, ledger, self.matrices if self.rule.analog else {})
        self._measuring(True)
        for m in self.matrices.values():
            m.record = True                       # priced this time, but still the eval generator
        self.tape.phase = "forward"
        x = self.task.x_test
        for i in range(0, len(x), EVAL_BATCH):
            self.net.forward(x[i:i + EVAL_BATCH], train=False)
            self.tape.flush_host("inference")
        entries = self.tape.take()
        self._measuring(False)
        env.run(env.process(chip.replay(entries)))
        by_action = ledger.energy_by_action(training_only=True)
        return {"energy_j": {"total": sum(by_action.values()), "by_action": by_action},
                "latency_s": env.now * 1e-12, "samples": len(x)}

    def _measuring(self, on: bool, rng: np.random.Generator | None = None) -> None:
        """Switch every matrix between priced training work and an unpriced measurement with its
        own read-noise generator (`rng`, default the evaluation generator); discard the host
        work the measurement did."""
        for m in self.matrices.values():
            m.record = not on
            if isinstance(m, AnalogMatrix):
                m.rng = (rng or self.eval_rng) if on else self.device_rng
        self.net.take_host_ops()

    def _collect_wear(self) -> None:
        if self.rule.analog:
            collect_wear(self.run, self.matrices, self.setup_writes, self.steady_writes,
                         self.wl.training.steps - self.wl.training.steps // 2)


def _dense(plan, shape) -> np.ndarray:
    delta = np.zeros(int(np.prod(shape)))
    delta[plan.cells] = plan.delta
    return delta.reshape(shape)
