"""Assembling a training run: everything the Trainer (cosim.sim.training) runs, built from specs.

`assemble(method, workload, hardware, task)` makes the rule, the seed streams, the network with
its matrices (on tiles with their mapping scale, or digital), the rule's auxiliary fast matrices,
the tape, the data stream, the ledger and the empty MethodRun, as one `TrainerState`: what a run
changes as it goes and what a checkpoint saves and restores (cosim.sim.checkpoint). The SimPy
environment and the Chip are rebuilt around a state (`make_env`, `make_chip`): a resumed run
starts a fresh environment at the stored time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cosim.devices.mapping import mapping_scale
from cosim.hardware.chip import Chip
from cosim.nn.analog import AnalogMatrix
from cosim.nn.build import Network, build_network
from cosim.nn.data import BatchStream
from cosim.nn.matrix import DigitalMatrix
from cosim.nn.tasks import Task
from cosim.rules import FAST, make_rule
from cosim.sim.clock import CountingEnvironment
from cosim.sim.ledger import Ledger
from cosim.sim.tape import Tape
from cosim.sim.wear import WriteStats
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec


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
    training_pulses: np.ndarray = None     # per device, pulses during training (setup excluded)
    steady_pulses: np.ndarray = None       # per device, pulses in the second half of training
    steady_steps: int = 0                  # steps in that second half
    endurance_unit: str = "cycles"         # what `endurance` counts (device.endurance_unit)
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


@dataclass
class TrainerState:
    """What a training run changes as it goes; checkpoints save and restore exactly this.

    matrices: every weight matrix by name (trained ones and a rule's `<name>.fast` twins);
    initial: the initial weights of the trained matrices (weight units), placed at setup;
    setup_writes / steady_writes: per matrix, device write counts after setup and at mid-run;
    setup_pulses / steady_pulses: the same for pulse counts.
    """

    method: str
    rule: object
    net: Network
    matrices: dict
    initial: dict[str, np.ndarray]
    tape: Tape
    batches: BatchStream
    rule_rng: np.random.Generator
    eval_rng: np.random.Generator
    device_rng: np.random.Generator
    ledger: Ledger
    run: MethodRun
    setup_writes: dict = field(default_factory=dict)
    steady_writes: dict = field(default_factory=dict)
    setup_pulses: dict = field(default_factory=dict)
    steady_pulses: dict = field(default_factory=dict)

    def trained_matrices(self) -> dict:
        return {n: m for n, m in self.matrices.items() if not n.endswith(FAST)}


def seed_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators per purpose, so methods share data order and initial weights."""
    names = ["data", "init", "devices", "rule", "eval"]
    return dict(zip(names, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(names)))))


def workload_mapping_scale(w_init: np.ndarray, wl: WorkloadSpec):
    """The mapping scale of a matrix that starts at `w_init` under the workload's mapping policy
    (training.mapping; training.weight_bound under `fixed`): what training maps each matrix at
    and what cost-only prices programming at (initial_mapping_scales)."""
    mapping = wl.training.mapping
    return mapping_scale(w_init, mapping.policy, mapping.headroom, mapping.granularity, wl.training.weight_bound)


class _Shape:
    """A stand-in matrix that only has a shape (initial_mapping_scales builds no weights)."""

    def __init__(self, w: np.ndarray):
        self.in_features, self.out_features = w.shape


def initial_mapping_scales(wl: WorkloadSpec) -> dict:
    """Per weight matrix name, the mapping scale a training run of `wl` gives it: the same
    initial weights (the workload seed's init stream, drawn in build order) through the same
    policy. One matrix's initial weights are in memory at a time, so full-size networks work."""
    scales = {}

    def make(name: str, w_init: np.ndarray):
        scales[name] = workload_mapping_scale(w_init, wl)
        return _Shape(w_init)
    build_network(wl.network.build(), make, seed_streams(wl.seed)["init"], input_grad=False)
    return scales


def _matrix_maker(rule, wl: WorkloadSpec, hw: HardwareSpec, device_rng, matrices: dict, initial: dict):
    """make_matrix for build_network: the same initial weights, digital or on tiles."""

    def make(name: str, w_init: np.ndarray):
        if rule.analog:
            matrix = AnalogMatrix(name, w_init, hw, workload_mapping_scale(w_init, wl), device_rng)
        else:
            matrix = DigitalMatrix(w_init)
        matrices[name], initial[name] = matrix, w_init
        return matrix
    return make


def _add_fast_matrices(matrices: dict, hw: HardwareSpec, device_rng) -> None:
    """A zero-weight analog twin `<name>.fast` of every matrix (tiki_taka); its reads are priced
    by the trainer's update."""
    for name, m in list(matrices.items()):
        matrices[name + FAST] = AnalogMatrix(name + FAST, np.zeros((m.in_features, m.out_features)),
                                             hw, m.weight_bound, device_rng)


def assemble(method: str, wl: WorkloadSpec, hw: HardwareSpec, task: Task) -> TrainerState:
    """The state of `method`'s run of `wl` on `hw` before its first step."""
    rule = make_rule(method, wl.rules)
    streams = seed_streams(wl.seed)
    matrices, initial = {}, {}
    net = build_network(wl.network.build(), _matrix_maker(rule, wl, hw, streams["devices"], matrices, initial),
                        streams["init"], input_grad=False)
    tape = Tape(net.take_host_ops)
    for matrix in matrices.values():
        matrix.ops = tape
        matrix.backward_on_host = wl.training.backward_on == "host"
    if getattr(rule, "fast_matrix", False):   # tiki_taka's fast matrices get tiles of their own
        _add_fast_matrices(matrices, hw, streams["devices"])
    batches = BatchStream(task.x_train, task.y_train, wl.training.batch_size, streams["data"])
    ledger, steps = Ledger(), wl.training.steps
    tiles = sum(m.tile_map.tiles for m in matrices.values()) if rule.analog else 0
    run = MethodRun(method, rule.analog, steps, metric=task.metric, loss=np.zeros(steps),
                    cells_written=np.zeros(steps), device_writes=np.zeros(steps), pulses=np.zeros(steps),
                    events=np.zeros(steps, dtype=np.int64), ledger=ledger,
                    weights=sum(m.in_features * m.out_features for n, m in matrices.items()
                                if not n.endswith(FAST)),
                    tiles=tiles, write_stats=WriteStats(steps))
    return TrainerState(method, rule, net, matrices, initial, tape, batches, streams["rule"], streams["eval"],
                        streams["devices"], ledger, run)


def make_env(now_ps: int = 0) -> CountingEnvironment:
    """The SimPy environment, starting at `now_ps` (a resumed run starts where it stopped)."""
    return CountingEnvironment(initial_time=now_ps)


def make_chip(env, hw: HardwareSpec, state: TrainerState, ledger: Ledger | None = None) -> Chip:
    """The chip holding `state`'s matrices (none for a digital rule), booking into `ledger`
    (default: the run's)."""
    return Chip(env, hw, state.ledger if ledger is None else ledger,
                state.matrices if state.rule.analog else {})
