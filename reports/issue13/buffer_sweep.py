"""Buffer-size sweep table and chart: reads a sweep folder of
workloads/sweeps/buffer_size_denoise.yaml and prints, per point (buffer capacity, its energy per
bit): the bits moved over the off-chip link and through the buffer per training step (from the
ledger's energies and the point's per-bit prices), the link's share of them (the batch's data
always cross it), each rule's training energy per step and the bp_open_loop / eapu ratio.

    python reports/issue13/buffer_sweep.py DIR [--png OUT.png]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from cosim.nn.records import MvmOp
from cosim.nn.work import step_work
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import load_workload


def rows(folder: Path) -> list[dict]:
    out = []
    for point in sorted(folder.glob("points/*/point.json")):
        meta = json.loads(point.read_text())
        if meta.get("status") != "ok":
            continue
        summary = json.loads((point.parent / "summary.json").read_text())
        hw = load_hardware(point.parent / "hardware.yaml")
        steps = summary["steps"]
        per_method = {}
        for name, method in summary["methods"].items():
            actions = method["energy_j"]["by_action"]
            link = actions.get("bus_transfer", 0.0) / hw.bus.energy_per_bit / steps
            buffer = actions.get("buffer_access", 0.0) / hw.buffer.energy_per_bit / steps
            per_method[name] = {"link_bits": link, "buffer_bits": buffer,
                                "link_share": link / (link + buffer) if link + buffer else 0.0,
                                "energy_per_step": method["energy_j"]["total"] / steps,
                                "link_energy_share": actions.get("bus_transfer", 0.0) / method["energy_j"]["total"]}
        out.append({"capacity": hw.buffer.capacity, "energy_per_bit": hw.buffer.energy_per_bit,
                    "methods": per_method,
                    "ratio": summary["paper_comparison"]["ours"]["training_energy_bp"]})
    return sorted(out, key=lambda r: (r["energy_per_bit"] != 9.5e-12, r["capacity"]))


def needed_capacity(folder: Path) -> float:
    """Bytes a training step's activations need to stay on chip (cosim.hardware.chip.Chip._fits:
    the inputs and outputs of every forward product, at the link's bits per value)."""
    point = next(folder.glob("points/*/point.json")).parent
    wl, hw = load_workload(point / "workload.yaml"), load_hardware(point / "hardware.yaml")
    work = step_work(wl.network.build(), wl.training.batch_size, hw, 0.5, 1.0)
    values = sum(r.values_in + r.vectors * r.out_features for r in work.forward if isinstance(r, MvmOp))
    return values * hw.bus.weight_bits / 8


def table(points: list[dict]) -> str:
    head = ["buffer", "pJ/bit", "link Mbit/step", "buffer Mbit/step", "link share of bits",
            "link share of energy (bp)", "bp µJ/step", "eapu µJ/step", "bp/eapu"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in points:
        bp, ea = p["methods"]["bp_open_loop"], p["methods"]["eapu"]
        lines.append("| " + " | ".join([
            f"{p['capacity'] / 1e3:.0f} KB" if p["capacity"] < 1e6 else f"{p['capacity'] / 1e6:.0f} MB",
            f"{p['energy_per_bit'] * 1e12:.3g}", f"{bp['link_bits'] / 1e6:.4g}", f"{bp['buffer_bits'] / 1e6:.4g}",
            f"{100 * bp['link_share']:.1f} %", f"{100 * bp['link_energy_share']:.1f} %",
            f"{bp['energy_per_step'] * 1e6:.4g}", f"{ea['energy_per_step'] * 1e6:.4g}", f"{p['ratio']:.4g}"]) + " |")
    return "\n".join(lines)


def chart(points: list[dict], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for fixed, label in ((True, "9.5 pJ/bit at every size"), (False, "pJ/bit scaled with capacity (Horowitz)")):
        pts = [p for p in points if (p["energy_per_bit"] == 9.5e-12) == fixed]
        kb = [p["capacity"] / 1e3 for p in pts]
        a.plot(kb, [100 * p["methods"]["bp_open_loop"]["link_share"] for p in pts], marker="o", label=label)
        b.plot(kb, [p["methods"]["bp_open_loop"]["energy_per_step"] * 1e3 for p in pts], marker="o", label=label)
    for ax in (a, b):
        ax.set_xscale("log")
        ax.set_xlabel("buffer capacity (KB)")
        ax.grid(alpha=0.3)
    a.set_ylabel("bits over the off-chip link (%)")
    b.set_ylabel("bp_open_loop training energy per step (mJ)")
    b.legend(fontsize=8)
    fig.suptitle("denoise (DnCNN 5x32, batch 4) on rram_180nm: on-chip buffer size", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--png", type=Path)
    args = parser.parse_args()
    points = rows(args.folder)
    print(table(points))
    print(f"\nA training step stays on chip from {needed_capacity(args.folder) / 1e6:.3g} MB of buffer "
          "(KB, MB: 10^3, 10^6 bytes).")
    if args.png:
        chart(points, args.png)


if __name__ == "__main__":
    main()
