"""The chip: tiles for every weight matrix, controllers, the host bus and the host, and where
the spec has them an on-chip activation buffer and a near-array digital unit, wired from the
component tables of cosim.hardware.registry. It turns the training core's operations into
timed, priced transactions.

Where data go: on a host-centric chip (no buffer) every MVM's inputs and outputs and every
write plan cross the off-chip link, and the host does the digital work. With a buffer and a
near-array unit, a step's layer-to-layer traffic stays in the buffer when the activations the
step keeps for its backward pass fit (otherwise it crosses the link as before), only the batch's
input data arrive over the link, the unit does the digital work and makes the write plans on
chip. Dense plans (every cell of a matrix) carry no addresses; sparse ones do."""
from __future__ import annotations

import simpy

from cosim.costs.actions import ActionCosts
from cosim.hardware.registry import CHIP_COMPONENTS, CONTROLLERS
from cosim.hardware.tile import Tile
from cosim.nn.records import MvmOp
from cosim.specs.hardware import HardwareSpec


class Chip:
    def __init__(self, env: simpy.Environment, hw: HardwareSpec, ledger, matrices: dict):
        self.env, self.hw, self.ledger = env, hw, ledger
        self.costs = ActionCosts(hw)
        detailed = hw.fidelity == "detailed"
        for attribute, cls, section in CHIP_COMPONENTS:
            present = section is None or getattr(hw, section) is not None
            setattr(self, attribute, cls(env, self.costs, ledger) if present else None)
        # The digital work runs on the near-array unit when the chip has one and holds matrices.
        self.digital = self.near_array if self.near_array is not None and matrices else self.host
        self.on_chip = False     # True while a step's activations fit in the buffer
        self.data_matrix = None  # the matrix whose forward inputs are the batch's data
        self.tiles = {name: [Tile(env, tile, self.costs, ledger, detailed) for tile in m.tile_map.tile_names()]
                      for name, m in matrices.items()}
        self.matrices = matrices
        for matrix in matrices.values():   # devices drift on the simulated clock, in seconds
            matrix.clock = self.clock_s
        self.controllers = {mode: cls(env, self.costs, detailed) for mode, cls in CONTROLLERS.items()}

    def servers(self) -> dict:
        """Every FIFO server of the chip by name (their busy-until times are its timing state)."""
        found = [s for s in (self.host, self.buffer, self.near_array) if s is not None]
        found += [s for tiles in self.tiles.values() for t in tiles for s in (t, t.dac, t.adc)]
        return {s.name: s for s in found}

    def clock_s(self) -> float:
        """Simulated time in seconds."""
        return self.env.now * 1e-12

    @property
    def tile_count(self) -> int:
        return sum(len(t) for t in self.tiles.values())

    def mvm(self, op):
        """SimPy process for one MvmOp: inputs over the bus, all its tiles in parallel, outputs back."""
        bits = self.hw.bus.weight_bits
        if self.on_chip and op.matrix == self.data_matrix and op.direction == "forward":
            yield from self.bus.transfer("forward_data", op.values_in * bits)    # the batch's data
        else:
            yield from self.move(f"{op.direction}_in", op.values_in * bits)
        steps = op.vectors * op.phases * op.slices
        tile_map = self.matrices[op.matrix].tile_map
        name = f"{op.direction}_adc_calibration" if op.calibration else op.direction
        runs = []
        for i, rows_used in enumerate(op.rows_used):
            for j, cols_used in enumerate(op.cols_used):
                r, c = (j, i) if op.direction == "backward" else (i, j)
                tile = self.tiles[op.matrix][tile_map.tile_index(r, c)]
                runs.append(self.env.process(tile.mvm(name, steps, int(rows_used), int(cols_used),
                                                      float(op.conductance_load[i, j]), op.slices)))
        yield self.env.all_of(runs)
        if op.calibration:     # the peak is found at the converters; no outputs leave the tiles
            return
        yield from self.move(f"{op.direction}_out", op.vectors * op.out_features * bits)
        # The host rescales each output by the input scale and the weight mapping scale.
        yield from self.host_work(f"{op.direction}_scale", 0.0, op.vectors * op.out_features)

    def move(self, op: str, bits: float):
        """SimPy process: move `bits` between the arrays and the digital work: through the buffer
        while the step's activations fit in it, else over the off-chip link."""
        if not bits:
            return
        if self.on_chip:
            yield self.buffer.access(op, bits)
        else:
            yield from self.bus.transfer(op, bits)

    def replay(self, entries):
        """SimPy process: recorded work in order (cosim.nn.records: MvmOp, HostWork). With a
        buffer, the products of the first matrix (the network's input layer) take their inputs,
        the batch's data, over the link; the rest stays on chip if the step's activations fit."""
        entries = list(entries)
        products = [e for e in entries if isinstance(e, MvmOp)]
        self.on_chip = self.buffer is not None and bool(products) and self._fits(entries, products)
        self.data_matrix = products[0].matrix if products else None
        for entry in entries:
            yield from entry.run_on(self)
        self.on_chip = False

    def _fits(self, entries, products) -> bool:
        """Whether the step's activations fit in the buffer: for a training step the inputs and
        outputs of every forward product (what the backward pass and the weight gradients read
        back); for a forward pass alone the largest product's inputs and outputs."""
        sizes = [e.values_in + e.vectors * e.out_features for e in products if e.direction == "forward"]
        training = any(getattr(e, "direction", "") == "backward" or getattr(e, "op", "") == "weight_gradient"
                       for e in entries)
        bits = self.hw.bus.weight_bits * (sum(sizes) if training else max(sizes, default=0))
        return bits <= 8 * self.hw.buffer.capacity

    def host_work(self, op: str, macs: float, ops: float, draws: float = 0.0):
        """SimPy process: digital work on the host, or on the near-array unit when there is one."""
        if macs or ops or draws:
            yield self.digital.compute(op, macs, ops, draws)

    def plan_bits(self, plan, weights: int) -> float:
        """Bits of a write plan: a value per cell, plus an address per cell unless the plan is
        dense (every one of the matrix's `weights` cells, in order)."""
        dense = plan.cells.size == weights
        return float(plan.cells.size * (plan.value_bits + (0 if dense else self.hw.bus.address_bits)))

    def send_plan(self, bits: float):
        """SimPy process: the write plan reaches the controllers: over the link from the host,
        or through the buffer from the near-array unit."""
        if not bits:
            return
        if self.digital is self.near_array and self.buffer is not None:
            yield self.buffer.access("write_plan", bits)
        elif self.digital is not self.near_array:
            yield from self.bus.transfer("write_plan", bits)

    def program(self, name: str, plan):
        """SimPy process: send a write plan to the controllers, then let the controller of its
        mode apply it. Returns the controller's outcome."""
        matrix = self.matrices[name]
        yield from self.send_plan(self.plan_bits(plan, matrix.in_features * matrix.out_features))
        return (yield from self.controllers[plan.mode].program(matrix, self.tiles[name], plan))

    def program_tiles(self, name: str, mode: str, plan_bits: float, per_tile: list):
        """SimPy process: a write plan whose effect on each tile is already known as
        (latency s, {action: (count, J)}) per tile, row-major (the cost-only mode's statistics).
        Same bus transfer and tile transactions as `program`, without device numerics."""
        yield from self.send_plan(plan_bits)
        op = self.controllers[mode].op
        events = [tile.program(op, latency, actions)
                  for tile, (latency, actions) in zip(self.tiles[name], per_tile) if actions]
        if events:
            yield self.env.all_of(events)

    def program_initial(self, name: str, outcome):
        """SimPy process: price the write-verify that placed the initial weights."""
        yield from self.controllers["verify"].execute(self.matrices[name], self.tiles[name], outcome)
