"""Where does the bp_open_loop / eapu training-energy ratio cross 10x? Reads a sweep folder
(`cosim sweep workloads/sweeps/bp_eapu_ratio_*.yaml --out DIR`), prints one row per point (its
axis values; the whole-run and chip-boundary ratios; the pulse ratio the ratio tends to as writes
dominate; each rule's programming share; the break-even statement) and draws the ratio against
the swept pulse width, one line per other axis combination, with the 10x line.

    python reports/issue13/ratio_sweep.py DIR [--png OUT.png]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

PULSE_AXIS = "hardware.device.pulse_width"


def points(folder: Path) -> list[dict]:
    rows = []
    for point in sorted(folder.glob("points/*/point.json")):
        meta = json.loads(point.read_text())
        summary_file = point.parent / "summary.json"
        if meta.get("status") != "ok" or not summary_file.exists():
            continue
        summary = json.loads(summary_file.read_text())
        paper = summary["paper_comparison"]
        ours, context = paper["ours"], paper["context"]
        rows.append({"values": meta["values"],
                     "ratio": ours["training_energy_bp"],
                     "ratio_chip": ours["training_energy_bp_by_boundary"]["chip"],
                     "ratio_update": ours["training_energy_bp_by_boundary"]["update_phases"],
                     "pulse_ratio": context["break_even"]["pulse_ratio"],
                     "prog_bp": context["programming_share_bp"],
                     "prog_eapu": context["programming_share_eapu"],
                     "metric": {m: summary["methods"][m]["metric"]["value"] for m in ("bp_open_loop", "eapu")},
                     "break_even": context["break_even"]["statement"]})
    return sorted(rows, key=lambda r: [seconds(v) if k == PULSE_AXIS else str(v) for k, v in r["values"].items()])


def seconds(text: str) -> float:
    number, unit = str(text).split()
    return float(number) * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def table(rows: list[dict]) -> str:
    axes = list(rows[0]["values"]) if rows else []
    head = axes + ["bp/eapu", "bp/eapu chip", "bp/eapu update", "pulse ratio", "prog. share bp",
                   "prog. share eapu", "metric bp", "metric eapu", ">= 10x"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r["values"][a]) for a in axes] + [
            f"{r['ratio']:.3g}", f"{r['ratio_chip']:.3g}", f"{r['ratio_update']:.3g}", f"{r['pulse_ratio']:.3g}",
            f"{100 * r['prog_bp']:.1f} %", f"{100 * r['prog_eapu']:.1f} %",
            f"{r['metric']['bp_open_loop']:.3f}", f"{r['metric']['eapu']:.3f}", "yes" if r["ratio"] >= 10 else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart(rows: list[dict], out: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups: dict[str, list] = {}
    for r in rows:
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in r["values"].items() if k != PULSE_AXIS)
        groups.setdefault(label, []).append((seconds(r["values"][PULSE_AXIS]), r["ratio"], r["pulse_ratio"]))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, pts in sorted(groups.items()):
        pts.sort()
        line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label or "ratio")
        ax.plot([p[0] for p in pts], [p[2] for p in pts], ls=":", color=line.get_color(), lw=1)
    ax.axhline(10, color="k", ls="--", lw=1, label="10x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("write pulse width (s)  [pulse energy V²·G·t grows with it]")
    ax.set_ylabel("bp_open_loop / eapu training energy")
    ax.set_title(title + "  (dotted: pulse ratio, the limit)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--png", type=Path)
    args = parser.parse_args()
    rows = points(args.folder)
    print(table(rows))
    crossing = [r for r in rows if r["ratio"] >= 10]
    print(f"\n{len(crossing)} of {len(rows)} points reach 10x" + (":" if crossing else "."))
    for r in crossing:
        print("  ", r["values"])
    if args.png:
        chart(rows, args.png, args.folder.name)


if __name__ == "__main__":
    main()
