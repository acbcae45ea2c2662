"""The chip: tiles for every weight matrix, controllers, the host bus and the host, wired from
the component tables of cosim.hardware.registry. It turns the training core's operations into
timed, priced transactions."""
from __future__ import annotations

import simpy

from cosim.costs.actions import ActionCosts
from cosim.hardware.registry import CHIP_COMPONENTS, CONTROLLERS
from cosim.hardware.tile import Tile
from cosim.specs.hardware import HardwareSpec


class Chip:
    def __init__(self, env: simpy.Environment, hw: HardwareSpec, ledger, matrices: dict):
        self.env, self.hw, self.ledger = env, hw, ledger
        self.costs = ActionCosts(hw)
        detailed = hw.fidelity == "detailed"
        for attribute, cls in CHIP_COMPONENTS:
            setattr(self, attribute, cls(env, self.costs, ledger))
        self.tiles = {name: [Tile(env, tile, self.costs, ledger, detailed) for tile in m.tile_map.tile_names()]
                      for name, m in matrices.items()}
        self.matrices = matrices
        for matrix in matrices.values():   # devices drift on the simulated clock, in seconds
            matrix.clock = self.clock_s
        self.controllers = {mode: cls(env, self.costs, detailed) for mode, cls in CONTROLLERS.items()}

    def servers(self) -> dict:
        """Every FIFO server of the chip by name (their busy-until times are its timing state)."""
        found = [self.host] + [s for tiles in self.tiles.values() for t in tiles for s in (t, t.dac, t.adc)]
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
        yield from self.bus.transfer(f"{op.direction}_in", op.values_in * bits)
        steps = op.vectors * op.phases * op.slices
        tile_map = self.matrices[op.matrix].tile_map
        runs = []
        for i, rows_used in enumerate(op.rows_used):
            for j, cols_used in enumerate(op.cols_used):
                r, c = (j, i) if op.direction == "backward" else (i, j)
                tile = self.tiles[op.matrix][tile_map.tile_index(r, c)]
                runs.append(self.env.process(tile.mvm(op.direction, steps, int(rows_used), int(cols_used),
                                                      float(op.conductance_load[i, j]))))
        yield self.env.all_of(runs)
        yield from self.bus.transfer(f"{op.direction}_out", op.vectors * op.out_features * bits)
        # The host rescales each output by the input scale and the weight mapping scale.
        yield from self.host_work(f"{op.direction}_scale", 0.0, op.vectors * op.out_features)

    def replay(self, entries):
        """SimPy process: recorded work in order (cosim.nn.records: MvmOp, HostWork)."""
        for entry in entries:
            yield from entry.run_on(self)

    def host_work(self, op: str, macs: float, ops: float, draws: float = 0.0):
        """SimPy process: digital work on the host."""
        if macs or ops or draws:
            yield self.host.compute(op, macs, ops, draws)

    def program(self, name: str, plan):
        """SimPy process: send a write plan over the bus, then let the controller of its mode
        apply it. Returns the controller's outcome."""
        bits = plan.cells.size * (self.hw.bus.address_bits + plan.value_bits)
        if bits:
            yield from self.bus.transfer("write_plan", bits)
        return (yield from self.controllers[plan.mode].program(self.matrices[name], self.tiles[name], plan))

    def program_tiles(self, name: str, mode: str, plan_bits: float, per_tile: list):
        """SimPy process: a write plan whose effect on each tile is already known as
        (latency s, {action: (count, J)}) per tile, row-major (the cost-only mode's statistics).
        Same bus transfer and tile transactions as `program`, without device numerics."""
        if plan_bits:
            yield from self.bus.transfer("write_plan", plan_bits)
        op = self.controllers[mode].op
        events = [tile.program(op, latency, actions)
                  for tile, (latency, actions) in zip(self.tiles[name], per_tile) if actions]
        if events:
            yield self.env.all_of(events)

    def program_initial(self, name: str, outcome):
        """SimPy process: price the write-verify that placed the initial weights."""
        yield from self.controllers["verify"].execute(self.matrices[name], self.tiles[name], outcome)
