"""The training loop as a SimPy process: numerics at each step's simulated time, then every
operation the step asked of the hardware replayed as priced, timed transactions.

Per step: forward (tile MVMs, host work), loss, backward (transposed MVMs, host weight
gradients), the rule's write plans through the controllers, host-parameter updates. Any network
cosim.nn.build can build trains here; its work is replayed in the order it ran (cosim.sim.tape).
The test set is evaluated every `eval_every` steps as a measurement: it is not priced and draws
its read noise from its own generator, so how often one measures never changes the training.
What runs (rule, network, matrices, streams) is assembled by cosim.sim.assembly into a
TrainerState; the Trainer only runs it.
"""
from __future__ import annotations

import time
import numpy as np

from cosim.costs.actions import to_ps
from cosim.devices.programming import program_verify
from cosim.nn.analog import AnalogMatrix
from cosim.nn.tasks import Task
from cosim.rules import FAST, context_for
from cosim.sim.assembly import MethodRun, assemble, make_chip, make_env
from cosim.sim.checkpoint import Checkpoint, restore_state
from cosim.sim.clock import CountingEnvironment, Pause
from cosim.sim.layer_figures import layer_figures
from cosim.sim.ledger import Ledger
from cosim.sim.wear import collect_wear
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec

# Test samples per evaluation forward pass: bounds the memory of im2col on image networks.
EVAL_BATCH = 64
EVAL_STREAM = 0xE7A1   # seed-sequence key of the per-evaluation read-noise generators


class Trainer:
    """Runs one method's training from an assembled state (cosim.sim.assembly)."""

    def __init__(self, method: str, workload: WorkloadSpec, hw: HardwareSpec, task: Task,
                 progress=None, chunk_steps: int = 1, checkpoint: Checkpoint | None = None):
        self.wl, self.hw, self.task = workload, hw, task
        self.progress, self.chunk_steps, self.checkpoint = progress, chunk_steps, checkpoint
        self.state = assemble(method, workload, hw, task)
        self.start_step = 0
        self.env = make_env()
        self.chip = make_chip(self.env, hw, self.state)

    def restore(self, data: dict) -> int:
        """Continue from a checkpoint's state (see cosim.sim.checkpoint); returns the steps done."""
        self.start_step = restore_state(self, data)
        return self.start_step

    # ----- driving the simulation ----------------------------------------------------------------
    def train(self) -> MethodRun:
        started = time.perf_counter()
        self._pause = Pause(self.env)
        process = self.env.process(self._trainer())
        while process.is_alive:
            self.env.run(until=self._pause)
        self.state.run.end_ps = self.env.now
        self._collect_wear()
        if self.state.rule.analog:
            self.state.run.layers = layer_figures(self.state.matrices, self.hw, self.state.rule)
        self.state.run.inference = self._price_inference()   # before retention checks let devices drift
        self._check_retention()
        self.state.run.wall_s += time.perf_counter() - started
        return self.state.run

    def _trainer(self):
        if self.start_step == 0:
            yield from self._setup()
        steps, every = self.wl.training.steps, self.wl.training.eval_every
        period_ps = to_ps(self.wl.training.step_period) if self.wl.training.step_period else 0
        for step in range(self.start_step, steps):
            self.state.ledger.step = step
            if step == steps // 2 and self.state.rule.analog:   # lifetime: steady-state rates from here
                self.state.steady_writes = {n: m.devices.write_count.copy() for n, m in self.state.matrices.items()}
                self.state.steady_pulses = {n: m.devices.pulse_count.copy() for n, m in self.state.matrices.items()}
            scheduled, started = self.env.events_scheduled, self.env.now
            yield from self._train_step(step)
            if self.env.now - started < period_ps:       # idle until the step period is over
                yield self.env.timeout(period_ps - (self.env.now - started))
            self.state.run.events[step] = self.env.events_scheduled - scheduled
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
        if self.state.rule.analog:
            wv = self.hw.write_verify
            for name, matrix in self.state.matrices.items():
                if name not in self.state.initial:
                    continue   # auxiliary matrices start at zero weight: fresh devices, nothing to place
                target = self.state.initial[name] / matrix.weight_bound
                devices = np.arange(matrix.devices.x.size)
                goal = np.concatenate([np.clip(target, 0, 1).ravel(), np.clip(-target, 0, 1).ravel()])
                outcome = program_verify(matrix.devices, devices, goal, wv.tolerance, wv.max_iterations,
                                         wv.max_pulses_per_iteration, wv.reads_per_verify, 0.0)
                yield from self.chip.program_initial(name, outcome)
            self.state.setup_writes = {n: m.devices.write_count.copy() for n, m in self.state.matrices.items()}
            self.state.setup_pulses = {n: m.devices.pulse_count.copy() for n, m in self.state.matrices.items()}
        self.state.run.setup_end_ps = self.env.now
        self._evaluate(0)

    # ----- one step -------------------------------------------------------------------------------
    def _train_step(self, step: int):
        if step and step % self.hw.adc.recalibrate_every == 0:
            for m in self.state.matrices.values():
                if isinstance(m, AnalogMatrix):
                    m.recalibrate = {"forward": True, "backward": True}
        x, target = self.state.batches.next()
        tape = self.state.tape
        tape.phase = "forward"
        output = self.state.net.forward(x, train=True)
        tape.flush_host()
        self.state.run.loss[step], grad = self.state.net.loss_and_grad(output, target)
        tape.flush_host("loss")
        tape.phase = "backward"
        self.state.net.backward(grad)
        tape.flush_host()
        yield from self.chip.replay(tape.take())
        yield from self._update(step)

    def _update(self, step: int):
        lr = self.wl.training.learning_rate
        for param in self.state.net.matrix_params():
            fast = self.state.matrices.get(param.name + FAST)
            ctx = context_for(param.name, param.matrix, self.hw, self.wl.training.weight_bound,
                              self.chip.clock_s(), fast)
            plans = self.state.rule.plan(-lr * param.grad, ctx, self.state.rule_rng)
            yield from self.chip.host_work("update_rule", 0.0, param.grad.size + sum(p.host_ops for p in plans),
                                           sum(p.host_draws for p in plans))
            if fast is not None:        # reads the rule made of its fast matrix, priced as MVMs
                yield from self.chip.replay(fast.ops)
                fast.ops.clear()
            for plan in plans:
                yield from self._apply_plan(step, param, plan)
        host = self.state.net.host_params()
        for p in host:
            p.value -= lr * p.grad
        yield from self.chip.host_work("host_param_update", 0.0, 2.0 * sum(p.value.size for p in host))

    def _apply_plan(self, step: int, param, plan):
        if plan.mode == "digital":
            param.matrix.apply_update(_dense(plan, param.grad.shape))
            self.state.run.cells_written[step] += plan.cells.size
            return
        name = param.name + plan.target
        started = self.env.now
        outcome = yield from self.chip.program(name, plan)
        self.state.run.write_stats.add_program_time(step, (self.env.now - started) * 1e-12)
        self._count_writes(step, outcome, self.state.matrices[name], counts_as_update=not plan.target)

    def _count_writes(self, step: int, outcome, matrix, counts_as_update: bool = True) -> None:
        pulses = outcome.device_pulses
        cells = matrix.in_features * matrix.out_features
        if counts_as_update:    # fraction updated counts the trained weights, not auxiliary ones
            written = np.zeros(cells, dtype=bool)     # a mask, not np.unique: no sort (hot path)
            written[outcome.devices[pulses > 0] % cells] = True
            self.state.run.cells_written[step] += np.count_nonzero(written)
        self.state.run.device_writes[step] += float(outcome.device_writes.sum())
        self.state.run.pulses[step] += float(pulses.sum())
        self.state.run.write_stats.add_outcome(outcome)

    # ----- measurement ----------------------------------------------------------------------------
    def _evaluate(self, step: int) -> None:
        self.state.run.eval_steps.append(step)
        # Read noise of each evaluation from a generator of its own step, so how often one
        # measures changes neither the training nor any later evaluation.
        self.state.run.scores.append(self._measure(np.random.default_rng([self.wl.seed, EVAL_STREAM, step])))

    def _measure(self, rng: np.random.Generator | None = None) -> dict:
        """Test-set scores of the network as the hardware holds it now (unpriced); read noise
        from `rng` (default: the evaluation generator)."""
        self._measuring(True, rng)
        x = self.task.x_test
        outputs = np.concatenate([self.state.net.forward(x[i:i + EVAL_BATCH], train=False)
                                  for i in range(0, len(x), EVAL_BATCH)])
        self._measuring(False)
        return self.task.scores(outputs)

    def _check_retention(self) -> None:
        """Test metric after the trained devices sit idle for each configured delay."""
        end_s = self.env.now * 1e-12
        for delay in sorted(self.wl.training.retention_checks):
            for m in self.state.matrices.values():
                if isinstance(m, AnalogMatrix):
                    m.devices.advance_to(end_s + delay)
            self.state.run.retention[delay] = self._measure()[self.state.run.metric]

    def _price_inference(self) -> dict:
        """One priced forward pass over the test set on the trained chip, on a fresh clock and
        ledger (so training totals stay as they were). Read noise comes from the evaluation
        generator. Per test sample the DAC, ADC, bus and host counts are the same for every
        method; what can differ is the array-read energy (V²·G·t over the trained conductances)
        and the number of input phases (signed activations need a second phase)."""
        env, ledger = CountingEnvironment(), Ledger()
        ledger.step = 0
        chip = make_chip(env, self.hw, self.state, ledger)
        self._measuring(True)
        for m in self.state.matrices.values():
            m.record = True                       # priced this time, but still the eval generator
        self.state.tape.phase = "forward"
        x = self.task.x_test
        for i in range(0, len(x), EVAL_BATCH):
            self.state.net.forward(x[i:i + EVAL_BATCH], train=False)
            self.state.tape.flush_host("inference")
        entries = self.state.tape.take()
        self._measuring(False)
        env.run(env.process(chip.replay(entries)))
        by_action = ledger.energy_by_action(training_only=True)
        return {"energy_j": {"total": sum(by_action.values()), "by_action": by_action},
                "latency_s": env.now * 1e-12, "samples": len(x)}

    def _measuring(self, on: bool, rng: np.random.Generator | None = None) -> None:
        """Switch every matrix between priced training work and an unpriced measurement with its
        own read-noise generator (`rng`, default the evaluation generator); discard the host
        work the measurement did."""
        for m in self.state.matrices.values():
            m.record = not on
            if isinstance(m, AnalogMatrix):
                m.rng = (rng or self.state.eval_rng) if on else self.state.device_rng
        self.state.net.take_host_ops()

    def _collect_wear(self) -> None:
        if self.state.rule.analog:
            collect_wear(self.state.run, self.state.matrices, self.state.setup_writes, self.state.steady_writes,
                         self.wl.training.steps - self.wl.training.steps // 2,
                         self.state.setup_pulses, self.state.steady_pulses)


def _dense(plan, shape) -> np.ndarray:
    delta = np.zeros(int(np.prod(shape)))
    delta[plan.cells] = plan.delta
    return delta.reshape(shape)
