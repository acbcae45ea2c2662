"""report.md and a self-contained report.html (figures embedded as data URIs)."""
from __future__ import annotations

import base64
import html
from pathlib import Path

from cosim.hardware.accounting import RING_NAMES, RINGS
from cosim.report.figures import METRIC_LABELS, all_figures
from cosim.report.headline import headline_section, metric_label, paper_chart
from cosim.report.paper import comparison_rows
from cosim.report.provenance import configuration_section


def _fmt(value) -> str:
    if value is None:
        return "∞ (no writes)"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _ratio(value) -> str:
    return "—" if value is None else f"{value:.3g}×"


def method_table(summary: dict) -> list[list[str]]:
    metric = next(iter(summary["methods"].values()))["metric"]["name"]
    rows = [["method", METRIC_LABELS.get(metric, metric), "energy (J)", "latency / step (s)", "device writes",
             "fraction updated / step", "max writes / device", "steps to first failure",
             "lifetime vs bp_open_loop"]]
    for name, m in summary["methods"].items():
        life = m["lifetime"]
        rows.append([name, _fmt(m["metric"]["value"]), _fmt(m["energy_j"]["total"]),
                     _fmt(m["latency_s"]["per_step"]), _fmt(m["writes"]["cell_writes"]),
                     _fmt(m["writes"]["fraction_updated_per_step"]),
                     _fmt(life["max_writes_per_cell"]), _fmt(life["steps_to_first_cell_failure"]),
                     _ratio(life.get("steps_to_first_cell_failure_vs_bp_open_loop"))])
    return rows


def lifetime_table(summary: dict) -> list[list[str]]:
    rows = [["method", "mean writes / device", "p99 writes / device", "max writes / device",
             "training runs to first failure", "training runs to 1 % failed",
             "first failure vs bp_open_loop", "1 % failed vs bp_open_loop",
             "mean write-rate lifetime vs bp_open_loop", "mean pulse-rate lifetime vs bp_open_loop"]]
    for name, m in summary["methods"].items():
        life = m["lifetime"]
        if name == "ideal" or not m.get("programming"):
            continue
        rows.append([name, _fmt(life["mean_writes_per_cell"]), _fmt(life["p99_writes_per_cell"]),
                     _fmt(life["max_writes_per_cell"]), _fmt(life["runs_to_first_cell_failure"]),
                     _fmt(life["runs_to_1pct_cells_failed"]),
                     _ratio(life.get("steps_to_first_cell_failure_vs_bp_open_loop")),
                     _ratio(life.get("steps_to_1pct_cells_failed_vs_bp_open_loop")),
                     _ratio(life.get("mean_write_rate_ratio_vs_bp_open_loop")),
                     _ratio(life.get("mean_pulse_rate_ratio_vs_bp_open_loop"))])
    return rows


def faults_table(summary: dict) -> list[list[str]]:
    rows = [["method", metric_label(summary), "devices", "stuck at start", "remapped columns",
             "stuck at end (incl. worn out)", "worn out in training"]]
    for name, m in summary["methods"].items():
        f = m.get("programming", {}).get("faults")
        if not f:
            continue
        rows.append([name, _fmt(m["metric"]["value"]), _fmt(f["devices"]), _fmt(f["stuck_at_start"]),
                     _fmt(f["remapped_columns"]), _fmt(f["stuck_at_end"]),
                     _fmt(f["stuck_at_end"] - f["stuck_at_start"])])
    return rows


def retention_table(summary: dict) -> list[list[str]]:
    delays = list(next(iter(summary["methods"].values())).get("retention", {}))
    rows = [["method", "at end of training"] + [f"after {d}" for d in delays]]
    if not delays:
        return rows
    for name, m in summary["methods"].items():
        rows.append([name, _fmt(m["metric"]["value"])] + [_fmt(m["retention"][d]) for d in delays])
    return rows


def programming_table(summary: dict) -> list[list[str]]:
    rows = [["method", "programming time / step p50 (s)", "p99 (s)", "max (s)", "pulses / written device p50",
             "p99", "verify iterations p50", "p99", "max", "verify reads", "unconverged devices"]]
    for name, m in summary["methods"].items():
        p = m.get("programming")
        if not p:
            continue
        t, pulses, wv = p["program_time_s_per_step"], p["pulses_per_written_device"], p.get("write_verify")
        it = wv["iterations_per_device"] if wv else {}
        rows.append([name, _fmt(t["p50"]), _fmt(t["p99"]), _fmt(t["max"]), _fmt(pulses.get("p50", "—")),
                     _fmt(pulses.get("p99", "—")), _fmt(it.get("p50", "—")), _fmt(it.get("p99", "—")),
                     _fmt(it.get("max", "—")), _fmt(wv["verify_reads"]) if wv else "—",
                     _fmt(wv["unconverged_devices"]) if wv else "—"])
    return rows


def gpu_table(summary: dict) -> list[list[str]]:
    """Each analog method's chip (three boundaries) against each GPU, per step and per run."""
    steps = summary["steps"]
    rows = [["method", "boundary", "chip J / step", "chip J / run (with setup)"]
            + [f"{g} ÷ chip, {per}" for g in summary["gpu"] for per in ("per step", "per run")]]
    for name, per_gpu in summary["chip_vs_gpu"].items():
        energy = summary["methods"][name]["energy_j"]
        for boundary, total in energy["by_boundary"].items():
            ratios = [_ratio(per_gpu[g][per][boundary]) for g in summary["gpu"] for per in ("per_step", "per_run")]
            rows.append([name, boundary, _fmt(total / steps), _fmt(total + energy["setup"])] + ratios)
    return rows


def phase_table(summary: dict) -> list[list[str]]:
    """Per method and training phase: energy (J) in each accounting ring, and the phase's total."""
    rows = [["method", "phase"] + [RING_NAMES[r] for r in RINGS] + ["phase total", "share"]]
    for name, m in summary["methods"].items():
        energy = m["energy_j"]
        for phase, rings in energy.get("by_phase_ring", {}).items():
            total = sum(rings.values())
            if total:
                rows.append([name, phase] + [_fmt(rings[r]) for r in RINGS]
                            + [_fmt(total), f"{total / energy['total']:.1%}"])
    return rows


def gpu_bands_table(summary: dict) -> list[list[str]]:
    rows = [["GPU", "time / step (s)", "floor J/step", "calibrated J/step", "TDP×time J/step", "bound"]]
    for name, g in summary["gpu"].items():
        b = g["bands"]
        rows.append([g["gpu"], _fmt(g["time_s_per_step"]), _fmt(b["floor"]), _fmt(b["calibrated"]),
                     _fmt(b["tdp_x_time"]), g["bound"]])
    return rows


def queueing_table(summary: dict) -> list[list[str]]:
    """Per method and component kind: utilisation over the training window and waiting times."""
    rows = [["method", "component kind", "components", "mean utilisation", "max utilisation",
             "wait p50 (s, worst)", "wait p99 (s, worst)", "events / step"]]
    for name, m in summary["methods"].items():
        for kind, k in m["queueing"]["by_kind"].items():
            rows.append([name, kind, str(k["components"]), f"{k['utilisation_mean']:.3g}",
                         f"{k['utilisation_max']:.3g}", _fmt(k["wait_p50_s_max"]), _fmt(k["wait_p99_s_max"]),
                         _fmt(m["events_per_step"])])
    return rows


CONSOLE_WIDTH = 100


def plain_table(rows: list[list[str]], width: int = CONSOLE_WIDTH) -> str:
    """Right-aligned columns for a terminal of `width` columns: headings wrap onto several lines
    when one line is too wide, and columns that still do not fit are left out (and named)."""
    for table in (_aligned(rows, wrap=False), _aligned(rows, wrap=True)):
        if max(map(len, table)) <= width:
            return "\n".join(table)
    keep = max((k for k in range(1, len(rows[0]) + 1)
                if max(map(len, _aligned([r[:k] for r in rows], wrap=True))) <= width), default=1)
    import textwrap

    note = f"(not shown at {width} columns: {', '.join(rows[0][keep:])}; see the full table in the report)"
    return "\n".join(_aligned([r[:keep] for r in rows], wrap=True) + textwrap.wrap(note, width))


def columns(rows: list[list[str]], names: list[str]) -> list[list[str]]:
    """The table's columns with these headings, in this order (e.g. a console's selection)."""
    index = [rows[0].index(n) for n in names]
    return [[row[i] for i in index] for row in rows]


def _aligned(rows: list[list[str]], wrap: bool) -> list[str]:
    """Lines of the table; with `wrap`, each heading breaks at spaces to its column's data width."""
    widths = [max([len(r[i]) for r in rows[1:]] + [max(map(len, rows[0][i].split() or [""]))
                                                    if wrap else len(rows[0][i])])
              for i in range(len(rows[0]))]
    head = [_wrap(h, w) if wrap else [h] for h, w in zip(rows[0], widths)]
    depth = max(map(len, head))
    head = [[""] * (depth - len(lines)) + lines for lines in head]     # headings sit on the data
    lines = [[head[i][j] for i in range(len(head))] for j in range(depth)] + rows[1:]
    return ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)).rstrip() for row in lines]


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _markdown_table(rows: list[list[str]]) -> str:
    """A markdown table; nothing for a header without rows (a section that is its note alone)."""
    if len(rows) < 2:
        return ""
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _html_table(rows: list[list[str]]) -> str:
    if len(rows) < 2:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _sections(summary: dict) -> list[tuple[str, str, list[list[str]]]]:
    boundary_note = ("Boundaries nest: `array` = the cells (reads, pulses, verify reads); "
                     "`array_converters` adds DACs, ADCs and peripherals; `chip` adds the rest of the chip; "
                     "`chip_bus` adds the off-chip link and memory; `chip_bus_host` adds the host's digital work. GPU figures are the "
                     "whole board (calibrated model; see docs/gpu_model.md). Per run, the chip also pays "
                     "the one-time write-verify of the initial weights (`setup`); the GPU's run is "
                     "steps × its per-step energy.")
    sections = [("Methods", "Training only (initial weight programming excluded; it is `energy_j.setup` in summary.json). "
             "Lifetime is projected from each device's write rate and its drawn endurance.", method_table(summary)),
            ("Energy by phase and boundary", "Training energy (J) of each phase in each accounting "
             "ring; rings nest into the boundaries (array ⊂ +converters ⊂ chip ⊂ +link ⊂ +host) and the "
             "cells of a method sum to its total. Phases: forward, error back-propagation (loss gradient "
             "included), weight gradient, and the update split into plan (rule decisions on the host), "
             "traffic (write plans over the link), programming (pulses) and verify (read-back).",
             phase_table(summary)),
            ("Lifetime", "Per-device training writes and projected lifetime (endurance / steady-state "
             "wear rate, wear counted in the chip's device.endurance_unit: write cycles or pulses; a "
             "training run = this workload's steps), relative to bp_open_loop; the mean-rate columns "
             "give how many times longer the average device lasts when wear counts write cycles, or "
             "pulses. Auxiliary matrices (tiki_taka's fast matrix) count as the method's devices.",
             lifetime_table(summary)),
            ("Faults", "Devices stuck at g_min/g_max from the start (after spare-column remapping) and "
             "after wear-out; their cost shows in each method's accuracy.", faults_table(summary)),
            ("Retention", "Test metric once the trained devices have drifted/relaxed for each delay "
             "(workload training.retention_checks; devices advance on the simulated clock).",
             retention_table(summary)),
            ("Programming", "Simulated time spent programming per step, pulses per written device, and "
             "write-verify's iterations and verify reads (training only).", programming_table(summary)),
            ("GPU estimates for the same training", "Three bands: floor (FLOPs at nameplate J/FLOP), "
             "calibrated model, TDP × time.", gpu_bands_table(summary)),
            ("Memristor chip vs GPU: GPU energy ÷ chip energy, per step and per run", boundary_note, gpu_table(summary)),
            ("Queueing", "Per component over the training window: utilisation = busy time / window; "
             "wait = start - issue of each transaction (worst component of the kind shown; every "
             "component is in summary.json under queueing.components). Events / step: SimPy events "
             f"scheduled per training step ({summary.get('fidelity', 'transaction')} fidelity).",
             queueing_table(summary))]
    return [section for section in sections if len(section[2]) > 1]   # drop tables with no rows


def _paper_section(summary: dict) -> tuple[str, list[str], list[list[str]]] | None:
    comparison = summary.get("paper_comparison")
    if comparison is None:
        return None
    note = (f"Our run against the published figures of {comparison['reference']} (table, list and "
            "chart). Ratios are whole-run totals inside the `chip_bus_host` boundary. "
            "Inference energy is one priced forward pass over the test set on each trained chip. "
            "Where the numbers differ, and what in this run explains it:")
    return "Paper comparison", [note] + list(comparison["differences"]), comparison_rows(comparison)


def write_report(result, out: Path) -> None:
    s = result.summary
    figures = all_figures(result, out)
    title = f"cosim report: {s['workload']} on {s['hardware']}"
    seeds = f"Seeds {', '.join(map(str, s['seeds']['seeds']))}" if s.get("seeds") else f"Seed {s['seed']}"
    intro = f"{seeds}, {s['steps']} steps, batch {s['batch_size']}, data {s['dataset']}."
    if s["input_baseline"]:
        intro += " The untrained input itself scores " + ", ".join(
            f"{k} {v:.4g}" for k, v in s["input_baseline"].items()) + "."
    paper = _paper_section(s)
    opening = [headline_section(s), configuration_section(s), paper and (*paper, paper_chart(s, out))]
    write_documents(out, title, intro, [x for x in opening if x] + _sections(s), figures)


def _html_image(name: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"


def write_documents(out: Path, title: str, intro: str, sections: list[tuple],
                    figures: dict[str, Path]) -> None:
    """report.md and a self-contained report.html: titled table sections, then the figures. A
    section is (heading, note, rows) or (heading, note, rows, figure path) for a chart shown under
    its table; its note is a paragraph, or a list: a paragraph, then bullet points under the table."""
    md = [f"# {title}", "", intro, ""]
    parts = [f"<h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>"]
    for heading, note, rows, *chart in sections:
        lead, points = (note, []) if isinstance(note, str) else (note[0], note[1:])
        md += [f"## {heading}", "", lead, "", _markdown_table(rows), ""] + [f"- {p}" for p in points]
        md += ([""] if points else []) + [f"![{heading}]({c.name})\n" for c in chart if c]
        bullets = "".join(f"<li>{html.escape(p)}</li>" for p in points)
        parts.append(f"<h2>{html.escape(heading)}</h2><p>{html.escape(lead)}</p>{_html_table(rows)}"
                     + (f"<ul>{bullets}</ul>" if bullets else "") + "".join(_html_image(heading, c) for c in chart if c))
    md += ["## Figures", ""] + [f"### {name}\n\n![{name}]({path.name})\n" for name, path in figures.items()]
    (out / "report.md").write_text("\n".join(md))
    parts.append("<h2>Figures</h2>")
    parts += [f"<h3>{html.escape(name)}</h3>{_html_image(name, path)}" for name, path in figures.items()]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "th{background:#f0f0f0}img{max-width:100%}")
    (out / "report.html").write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                                     f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
