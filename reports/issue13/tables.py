"""Issue 13's closing-note tables from run folders (each with summary.json, workload.yaml and
hardware.yaml, as `cosim run` writes them): per configuration the phase x boundary energy of
bp_open_loop and eapu, the bp/eapu and write_verify/eapu ratios per boundary and for the update
phases alone, each method's programming share, the break-even energy per write, and the chip's
forward-inference energy per MAC beside measured chips of similar node.

    python reports/issue13/tables.py --run digits=reports/digits_mlp \
        --run denoise=reports/eapu_paper_denoise --run neurosim=runs/neurosim_mlp_v3
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from cosim.hardware.accounting import PHASES, RINGS
from cosim.hardware.registry import within
from cosim.nn.records import MvmOp
from cosim.nn.work import step_work
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload

BOUNDARIES = {"array": "array", "converters": "+converters", "chip": "chip", "link": "+link", "host": "+host"}
SUMMARY_BOUNDARIES = ("array", "array_converters", "chip", "chip_bus", "chip_bus_host", "update_phases")

# Measured analog in-memory MVM energy per MAC (1 MAC = 2 ops; TOPS/W -> fJ/MAC = 2000 / (TOPS/W)),
# as docs/reference_parameters.md lists them with their sources.
MEASURED = (
    ("RRAM CIM macro, 90 nm, 2 bit/cell (published macro; docs/reference_parameters.md)", "25-51 TOPS/W", 39e-15, 80e-15),
    ("NeuRRAM core, 130 nm RRAM, 4-bit inputs (Wan et al., Nature 2022)", "~0.05 pJ/MAC", 50e-15, 50e-15),
    ("ReRAM CIM macro, 22 nm (JSSC 2023)", "21.6 TOPS/W", 93e-15, 93e-15),
    ("IBM HERMES PCM core, 14 nm (Le Gallo et al., Nat. Electron. 2023)", "9.76 TOPS/W", 205e-15, 205e-15),
)


def uj(x) -> str:
    return "-" if x is None else f"{x * 1e6:.4g}"


def ratio(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def markdown(head: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                     + ["| " + " | ".join(r) + " |" for r in rows])


def phase_boundary_table(method: dict) -> str:
    """Energy (µJ) per phase inside each nested boundary (cumulative over the rings)."""
    table = method["energy_j"]["by_phase_ring"]
    rows = []
    for phase in PHASES + ("total",):
        rings = ({r: sum(table[p][r] for p in PHASES) for r in RINGS} if phase == "total" else table[phase])
        inside, cells = 0.0, []
        for ring in RINGS:
            inside += rings[ring]
            cells.append(uj(inside))
        rows.append([phase] + cells)
    return markdown(["phase (µJ)"] + [BOUNDARIES[r] for r in RINGS], rows)


def ratio_table(paper: dict) -> str:
    ours = paper["ours"]
    rows = [[name, ratio(ours["training_energy_bp_by_boundary"].get(b)),
             ratio((ours.get("training_energy_wv_by_boundary") or {}).get(b))]
            for b, name in zip(SUMMARY_BOUNDARIES, ("array", "+converters", "chip", "+link", "+host (total)",
                                                     "update phases alone"))]
    return markdown(["boundary", "bp_open_loop / eapu", "write_verify / eapu"], rows)


def macs_per_sample(folder: Path) -> float:
    """Forward multiply-accumulates of one input sample through the network's matrices."""
    wl, hw = load_workload(folder / "workload.yaml"), load_hardware(folder / "hardware.yaml")
    work = step_work(wl.network.build(), 1, hw, 0.5, 1.0)
    return float(sum(r.vectors * r.in_features * r.out_features for r in work.forward if isinstance(r, MvmOp)))


def inference_rows(folder: Path, summary: dict) -> list[list[str]]:
    inference = summary["methods"]["eapu"]["inference"]
    per_sample = {a: e / inference["samples"] for a, e in inference["energy_j"]["by_action"].items()}
    macs = macs_per_sample(folder)
    cells = [f"{within(per_sample, ring) / macs * 1e15:.4g}" for ring in ("converters", "chip", "host")]
    return [[f"{summary['hardware']}, {summary['workload']} (this run; {macs:.4g} MAC/sample)"] + cells]


def report(label: str, folder: Path) -> str:
    summary = json.loads((folder / "summary.json").read_text())
    paper, methods = summary["paper_comparison"], summary["methods"]
    context = paper["context"]
    out = [f"## {label}: {summary['workload']} on {summary['hardware']}, {summary['steps']} steps, "
           f"batch {summary['batch_size']}"]
    for name in ("bp_open_loop", "eapu"):
        if name in methods:
            out += [f"\n### {name}: energy by phase inside each boundary\n", phase_boundary_table(methods[name])]
    out += ["\n### Ratios per boundary\n", ratio_table(paper)]
    shares = [[m, f"{100 * context[k]:.3g} %"] for m, k in (("bp_open_loop", "programming_share_bp"),
                                                          ("eapu", "programming_share_eapu"),
                                                          ("write_verify", "programming_share_wv"))
              if context.get(k) is not None]
    out += ["\n### Programming (write) share of each method's training energy\n",
            markdown(["method", "programming share (pulses, their lines and supply loss, verify reads)"], shares)]
    be = context["break_even"]
    per_pulse = {m: (f"{e * 1e12:.3g} pJ" if e else "-") for m, e in be["current_energy_per_pulse_j"].items()}
    out += ["\n### Break-even energy per write\n",
            f"At the {be['boundary']} boundary, target {be['target']}x: "
            + (f"{be['energy_per_pulse_j'] * 1e12:.4g} pJ per pulse. " if be["energy_per_pulse_j"] else "")
            + f"{be['statement']}. Pulse ratio {be['pulse_ratio']:.3g}, shared-work ratio "
            f"{be['shared_ratio']:.3g}; energy per pulse now: {per_pulse}."]
    return "\n".join(out)


def inference_table(runs: list[tuple[str, Path]]) -> str:
    rows = []
    for _, folder in runs:
        rows += inference_rows(folder, json.loads((folder / "summary.json").read_text()))
    rows += [[name + f" [{quoted}]", (f"{lo * 1e15:.3g}" if lo == hi else f"{lo * 1e15:.3g}-{hi * 1e15:.3g}"), "", ""]
             for name, quoted, lo, hi in MEASURED]
    return ("## Forward inference energy per MAC (fJ): this chip (eapu's trained weights) beside measured "
            "chips\n\nMeasured figures are macro/core level: compare them with the +converters column.\n\n"
            + markdown(["chip", "+converters (macro)", "chip", "total (+link, host)"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, metavar="LABEL=DIR",
                        help="a configuration's run folder, e.g. digits=reports/digits_mlp")
    args = parser.parse_args()
    runs = [(label, Path(folder)) for label, folder in (r.split("=", 1) for r in args.run)]
    for label, folder in runs:
        print(report(label, folder) + "\n")
    print(inference_table(runs))


if __name__ == "__main__":
    main()
