"""The report's opening panel: per method the test metric, training energy, latency per step and
projected lifetime, each with its ratio to bp_open_loop (means over the seeds when a run has
several, with their 95 % confidence intervals); and the chart of the paper comparison."""
from __future__ import annotations

from pathlib import Path

from cosim.report.figures import METRIC_LABELS, input_label

BASELINE = "bp_open_loop"
# (column, path into a method's summary entry, key of the same figure in the `seeds` statistics)
QUANTITIES = [("metric", ("metric", "value"), "metric"),
              ("energy (J)", ("energy_j", "total"), "energy_j"),
              ("latency / step (s)", ("latency_s", "per_step"), "latency_s_per_step"),
              ("first failure (steps)", ("lifetime", "steps_to_first_cell_failure"), "steps_to_first_cell_failure")]


def metric_label(summary: dict) -> str:
    name = next(iter(summary["methods"].values()))["metric"]["name"]
    return METRIC_LABELS.get(name, name)


def _get(entry: dict, path: tuple[str, ...]):
    for part in path:
        entry = entry.get(part) if isinstance(entry, dict) else None
    return entry


def headline(summary: dict) -> dict[str, dict[str, dict]]:
    """{method: {column: {"value", "ci95_half_width", "vs_bp_open_loop"}}}; the value is the mean over
    the seeds when the summary has `seeds`; a lifetime of None means no device wore (no writes)."""
    stats = (summary.get("seeds") or {}).get("methods", {})
    out = {}
    for method, entry in summary["methods"].items():
        out[method] = {}
        for column, path, key in QUANTITIES:
            figure = stats.get(method, {}).get(key)
            value = figure["mean"] if figure else _get(entry, path)
            out[method][column] = {"value": value,
                                   "ci95_half_width": figure["ci95_half_width"] if figure else None}
    base = out.get(BASELINE)
    for figures in out.values():
        for column, cell in figures.items():
            theirs = base[column]["value"] if base else None
            ours = cell["value"]
            cell[f"vs_{BASELINE}"] = ours / theirs if ours is not None and theirs and theirs > 0 else None
    return out


def _number(value, none: str) -> str:
    if value is None:
        return none
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cell(cell: dict, column: str, with_ci: bool) -> str:
    none = "∞ (no writes)" if column.startswith("first failure") else "—"
    text = _number(cell["value"], none)
    if with_ci and cell["ci95_half_width"] is not None:
        text += f" ± {cell['ci95_half_width']:.2g}"
    ratio = cell[f"vs_{BASELINE}"]
    return text + (f" ({ratio:.3g}×)" if ratio is not None else "")


def input_baseline(summary: dict) -> tuple[str, float] | None:
    """(name, score) of the untrained input on the headline metric (the noisy patch of denoise,
    the bicubic upsampling of sr_x2), or None when the task has no such baseline."""
    metric = next(iter(summary["methods"].values()))["metric"]["name"]
    score = (summary.get("input_baseline") or {}).get(metric)
    return None if score is None else (input_label(summary.get("dataset", "")), score)


def _unit(summary: dict) -> str:
    return " dB" if next(iter(summary["methods"].values()))["metric"]["name"] == "test_psnr_db" else ""


def _versus_input(value, score: float, unit: str) -> str:
    return "—" if value is None else f"{value - score:+.2f}{unit}"


def headline_rows(summary: dict, with_ci: bool = True) -> list[list[str]]:
    """The panel as table rows; cells read 'value (ratio to bp_open_loop ×)'. Image tasks get a
    column beside the metric: each method's metric minus the untrained input's (input_baseline)."""
    figures = headline(summary)
    columns = [c for c, _, _ in QUANTITIES]
    head = [metric_label(summary) if c == "metric" else c for c in columns]
    rows = [[m] + [_cell(f[c], c, with_ci) for c in columns] for m, f in figures.items()]
    baseline = input_baseline(summary)
    if baseline is None:
        return [["method"] + head] + rows
    name, score = baseline
    unit = _unit(summary)
    heading = f"vs {name} ({score:.4g}{unit})"
    versus = [_versus_input(f["metric"]["value"], score, unit) for f in figures.values()]
    return ([["method", head[0], heading] + head[1:]]
            + [row[:2] + [v] + row[2:] for row, v in zip(rows, versus)])


def headline_section(summary: dict) -> tuple[str, str, list[list[str]]]:
    seeds = summary.get("seeds")
    over = (f"Means over seeds {', '.join(map(str, seeds['seeds']))} ± the half-width of the 95 % "
            "confidence interval of the mean (Student-t, n − 1 degrees of freedom; every seed's summary "
            f"is in seeds/, the sections below and the figures show seed {summary['seed']}); "
            if seeds else f"Seed {summary['seed']}; ")
    base = ("in brackets the ratio to bp_open_loop" if BASELINE in summary["methods"]
            else "no bp_open_loop in this run, so no ratios")
    note = (f"{over}{base}. Energy and latency: the training steps (initial programming excluded); "
            "first failure: steps until the first device exceeds its drawn endurance at the "
            "training's write rate.")
    baseline = input_baseline(summary)
    if baseline is not None:
        name, score = baseline
        note += (f" vs {name}: each method's metric minus that of the {name} (the untrained input, "
                 f"{score:.4g}{_unit(summary)}), the baseline a trained network has to beat.")
    return "Headline", note, headline_rows(summary)


def paper_chart(summary: dict, out: Path) -> Path | None:
    """Our ratios against the paper's, on a log axis: training and inference energy
    bp_open_loop / eapu and lifetime eapu / bp_open_loop."""
    comparison = summary.get("paper_comparison")
    if comparison is None:
        return None
    import matplotlib.pyplot as plt
    import numpy as np

    from cosim.report.figures import _save

    keys = [("training_energy_bp", "training energy\nbp_open_loop / eapu"),
            ("inference_energy_bp", "inference energy\nbp_open_loop / eapu"),
            ("lifetime", "lifetime (first failure)\neapu / bp_open_loop")]
    ours = [comparison["ours"].get(k) for k, _ in keys]
    paper = [comparison["published"][k] for k, _ in keys]
    x = np.arange(len(keys))
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    for offset, values, label in ((-0.2, ours, "this run"), (0.2, paper, "paper (published)")):
        heights = [np.nan if v is None else v for v in values]
        bars = ax.bar(x + offset, heights, 0.4, label=label)
        ax.bar_label(bars, labels=["∞/—" if v is None else f"{v:.4g}×" for v in values], fontsize=8)
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xticks(x, [label for _, label in keys], fontsize=8)
    ax.set(yscale="log", ylabel="ratio (×)", title="This run against the EaPU paper")
    ax.legend(fontsize=8)
    return _save(fig, out / "paper_comparison.png")
