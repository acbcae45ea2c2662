"""report.md and a self-contained report.html (figures embedded as data URIs)."""
from __future__ import annotations

import base64
import html
from pathlib import Path

from cosim.report.figures import METRIC_LABELS, all_figures
from cosim.report.paper import comparison_rows


def _fmt(value) -> str:
    if value is None:
        return "∞ (no writes)"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def method_table(summary: dict) -> list[list[str]]:
    metric = next(iter(summary["methods"].values()))["metric"]["name"]
    rows = [["method", METRIC_LABELS.get(metric, metric), "energy (J)", "latency / step (s)", "device writes",
             "fraction updated / step", "max writes / device", "steps to first failure",
             "lifetime vs bp_open_loop"]]
    base = summary["methods"].get("bp_open_loop", {}).get("lifetime", {}).get("steps_to_first_cell_failure")
    for name, m in summary["methods"].items():
        first = m["lifetime"]["steps_to_first_cell_failure"]
        ratio = (first / base) if (first and base) else None
        rows.append([name, _fmt(m["metric"]["value"]), _fmt(m["energy_j"]["total"]),
                     _fmt(m["latency_s"]["per_step"]), _fmt(m["writes"]["cell_writes"]),
                     _fmt(m["writes"]["fraction_updated_per_step"]),
                     _fmt(m["lifetime"]["max_writes_per_cell"]), _fmt(first),
                     "—" if ratio is None else f"{ratio:.3g}×"])
    return rows


def gpu_table(summary: dict) -> list[list[str]]:
    """Energy per training step: each method's chip (three boundaries) against each GPU."""
    steps = summary["steps"]
    rows = [["method", "boundary", "J / step"] + [f"{g} calibrated ratio (GPU / chip)" for g in summary["gpu"]]]
    for name, m in summary["methods"].items():
        if name == "ideal":
            continue
        for boundary, energy in m["energy_j"]["by_boundary"].items():
            per_step = energy / steps
            ratios = [f"{g['energy_j_per_step'] / per_step:.3g}×" if per_step else "—" for g in summary["gpu"].values()]
            rows.append([name, boundary, _fmt(per_step)] + ratios)
    return rows


def gpu_bands_table(summary: dict) -> list[list[str]]:
    rows = [["GPU", "time / step (s)", "floor J/step", "calibrated J/step", "TDP×time J/step", "bound"]]
    for name, g in summary["gpu"].items():
        b = g["bands"]
        rows.append([g["gpu"], _fmt(g["time_s_per_step"]), _fmt(b["floor"]), _fmt(b["calibrated"]),
                     _fmt(b["tdp_x_time"]), g["bound"]])
    return rows


def _markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def _html_table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _sections(summary: dict) -> list[tuple[str, str, list[list[str]]]]:
    boundary_note = ("Boundaries: `chip` = tiles, converters and programming; `chip_bus` adds the "
                     "host link; `chip_bus_host` adds the host's digital work. GPU figures are the "
                     "whole board (calibrated model; see docs/gpu_model.md).")
    return [("Methods", "Training only (initial weight programming excluded; it is `energy_j.setup` in summary.json). "
             "Lifetime is projected from each device's write rate and its drawn endurance.", method_table(summary)),
            ("GPU estimates for the same training", "Three bands: floor (FLOPs at nameplate J/FLOP), "
             "calibrated model, TDP × time.", gpu_bands_table(summary)),
            ("Memristor chip vs GPU, energy per training step", boundary_note, gpu_table(summary))]


def _paper_section(summary: dict) -> tuple[str, str, list[list[str]]] | None:
    comparison = summary.get("paper_comparison")
    if comparison is None:
        return None
    note = (f"Our run against the published figures of {comparison['reference']}. Ratios are "
            "whole-run totals inside the `chip_bus_host` boundary. Inference energy is one priced "
            "forward pass over the test set on each trained chip. " + " ".join(comparison["differences"]))
    return "Paper comparison", note, comparison_rows(comparison)


def write_report(result, out: Path) -> None:
    s = result.summary
    figures = all_figures(result, out)
    title = f"cosim report: {s['workload']} on {s['hardware']}"
    intro = f"Seed {s['seed']}, {s['steps']} steps, batch {s['batch_size']}, data {s['dataset']}."
    if s["input_baseline"]:
        intro += " The untrained input itself scores " + ", ".join(
            f"{k} {v:.4g}" for k, v in s["input_baseline"].items()) + "."
    md = [f"# {title}", "", intro, ""]
    sections = ([paper] if (paper := _paper_section(s)) else []) + _sections(s)
    for heading, note, rows in sections:
        md += [f"## {heading}", "", note, "", _markdown_table(rows), ""]
    md += ["## Figures", ""] + [f"### {name}\n\n![{name}]({path.name})\n" for name, path in figures.items()]
    (out / "report.md").write_text("\n".join(md))
    parts = [f"<h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>"]
    for heading, note, rows in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2><p>{html.escape(note)}</p>{_html_table(rows)}")
    parts.append("<h2>Figures</h2>")
    for name, path in figures.items():
        data = base64.b64encode(path.read_bytes()).decode()
        parts.append(f"<h3>{html.escape(name)}</h3><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
             "th{background:#f0f0f0}img{max-width:100%}")
    (out / "report.html").write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                                     f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
