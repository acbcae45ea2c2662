"""Every hardware component and controller, registered once: the chip is wired from these
tables and the report derives its boundaries and phases from the components' declarations.

Adding a component: one module with a class that declares `ACTIONS` (cosim.hardware.accounting)
and books only those, plus one row here; the conformance suite (tests/test_components.py) then
runs it through the same checks as every other. Adding a controller: a class with `plan_mode`,
`op` and `program(matrix, tiles, plan)`, plus one entry in CONTROLLERS.
"""
from __future__ import annotations

from cosim.hardware.accounting import PHASES, RINGS, Action, op_phase
from cosim.hardware.adc_bank import ADCBank
from cosim.hardware.buffer import ActivationBuffer
from cosim.hardware.dac_bank import DACBank
from cosim.hardware.eapu_controller import EaPUController
from cosim.hardware.host import Host
from cosim.hardware.host_bus import HostBus
from cosim.hardware.near_array import NearArrayUnit
from cosim.hardware.open_loop_controller import OpenLoopController
from cosim.hardware.tile import Tile
from cosim.hardware.write_verify_controller import WriteVerifyController

# Chip-level components: (attribute of Chip, class, the spec section that must be present or None
# for always; an absent optional component is None on the Chip). Tiles (one per block of each
# matrix, with their DAC and ADC banks) are built per matrix from TILE_PARTS.
CHIP_COMPONENTS = (("bus", HostBus, None), ("host", Host, None),
                   ("buffer", ActivationBuffer, "buffer"), ("near_array", NearArrayUnit, "near_array"))
TILE_PARTS = (DACBank, Tile, ADCBank)    # in data-path order
COMPONENTS = tuple(cls for _, cls, _ in CHIP_COMPONENTS) + TILE_PARTS

# Write plan mode -> the controller that applies it (a plan's mode alone chooses its controller).
CONTROLLERS = {cls.plan_mode: cls for cls in (OpenLoopController, EaPUController, WriteVerifyController)}


def declared_actions() -> dict[str, Action]:
    """Every action any registered component declares, by name: data-path work (phase from its
    operation) first, then actions of a fixed phase, each in registration order. Sums over
    actions run in this order, so totals do not depend on the order actions were booked."""
    actions: dict[str, Action] = {}
    for cls in COMPONENTS:
        for action in cls.ACTIONS:
            if action.name in actions:
                raise ValueError(f"action {action.name!r} declared twice ({cls.__name__})")
            actions[action.name] = action
    return dict(sorted(actions.items(), key=lambda item: item[1].phase is not None))


ACTIONS = declared_actions()


def action(name: str) -> Action:
    """The declaration of action `name`; KeyError naming the fix when no component declares it."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise KeyError(f"action {name!r} is booked but no component declares it "
                       "(add it to the component's ACTIONS)") from None


def phase_of(op: str, action_name: str) -> str:
    """The training phase of `action_name` done for operation `op`."""
    fixed = action(action_name).phase
    return fixed if fixed is not None else op_phase(op)


def by_ring(by_action: dict[str, float]) -> dict[str, float]:
    """Energy (J) per accounting ring; the rings partition the total. Within a ring actions are
    summed in declaration order."""
    return {ring: sum((e for a, e in _declared_order(by_action) if action(a).ring == ring), 0.0)
            for ring in RINGS}


def within(by_action: dict[str, float], ring: str) -> float:
    """Energy (J) inside the boundary that ends with `ring` (all rings up to it), summed in
    declaration order."""
    inside = set(RINGS[:RINGS.index(ring) + 1])
    return sum((e for a, e in _declared_order(by_action) if action(a).ring in inside), 0.0)


def _declared_order(by_action: dict[str, float]) -> list[tuple[str, float]]:
    for name in by_action:
        action(name)     # unknown names fail loudly
    return [(name, by_action[name]) for name in ACTIONS if name in by_action]


def phase_by_ring(by_op_action: dict[tuple[str, str], float]) -> dict[str, dict[str, float]]:
    """Energy (J) per training phase and accounting ring, from energies per (op, action); every
    phase and ring appears (zeros included), and the cells partition the total."""
    table = {phase: dict.fromkeys(RINGS, 0.0) for phase in PHASES}
    for (op, name), energy in sorted(by_op_action.items()):
        table[phase_of(op, name)][action(name).ring] += energy
    return table


def nested(rings: dict[str, float]) -> dict[str, float]:
    """Energy (J) inside each nested boundary, from energy per ring: `array`, then each wider
    boundary adding its ring (`converters` = array + converters and peripherals, ..., `host` =
    everything)."""
    out, inside = {}, 0.0
    for ring in RINGS:
        inside += rings.get(ring, 0.0)
        out[ring] = inside
    return out
