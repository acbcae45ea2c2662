"""Figures of a run (matplotlib, Agg backend), each saved as PNG and returned as its path."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cosim.hardware.accounting import PHASES, RING_NAMES, RINGS  # noqa: E402


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


METRIC_LABELS = {"test_accuracy": "test accuracy", "test_psnr_db": "test PSNR (dB)"}
# What an image task's untrained input is (cosim.nn.tasks: summary["input_baseline"] scores it):
# the baseline every method of a denoising or super-resolution run is read against.
INPUT_LABELS = {"denoise": "noisy input", "sr_x2": "bicubic"}


def input_label(dataset: str) -> str:
    return INPUT_LABELS.get(dataset, "input")


def metric_curve_title(metric: str) -> str:
    label = METRIC_LABELS.get(metric, metric)
    return f"{label[0].upper()}{label[1:]} vs step"


def metric_curves(curves, metric: str, baseline: dict, out: Path, dataset: str = "") -> Path:
    """The headline test metric against training step, per method (and the input's own score)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for method, group in curves.groupby("method", sort=False):
        ax.plot(group.step, group[metric], marker="o", ms=3, label=method)
    if metric in baseline:
        ax.axhline(baseline[metric], color="grey", ls="--", lw=1, label=f"{input_label(dataset)} (untrained input)")
    ax.set(xlabel="training step", ylabel=METRIC_LABELS.get(metric, metric), title=metric_curve_title(metric))
    if metric == "test_accuracy":
        ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, out / "test_metric.png")


def energy_by_action(summary: dict, out: Path) -> Path:
    methods = list(summary["methods"])
    actions = sorted({a for m in methods for a in summary["methods"][m]["energy_j"]["by_action"]})
    fig, ax = plt.subplots(figsize=(8.5, 4.0))
    width = 0.8 / max(len(actions), 1)
    for i, action in enumerate(actions):
        values = np.array([summary["methods"][m]["energy_j"]["by_action"].get(action, 0.0) for m in methods])
        # Absent actions get no bar (a log axis has no zero).
        ax.bar(np.arange(len(methods)) + i * width, np.where(values > 0, values, np.nan), width, label=action)
    ax.set_xticks(np.arange(len(methods)) + 0.4 - width / 2, methods)
    ax.set(yscale="log", ylabel="training energy (J)", title="Energy by action")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(fig, out / "energy_by_action.png")


def energy_by_phase(summary: dict, out: Path) -> Path | None:
    """One panel per method on the chip: training energy per phase, stacked by accounting ring
    (array, converters and peripherals, rest of the chip, off-chip link and memory, host)."""
    methods = [m for m, v in summary["methods"].items() if "by_phase_ring" in v["energy_j"]]
    if not methods:
        return None
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods) + 1.6, 4.2), sharey=True, squeeze=False)
    colours = plt.get_cmap("tab10").colors
    for ax, method in zip(axes[0], methods):
        table = summary["methods"][method]["energy_j"]["by_phase_ring"]
        bottom = np.zeros(len(PHASES))
        for i, ring in enumerate(RINGS):
            values = np.array([table[p][ring] for p in PHASES]) * 1e3
            ax.bar(np.arange(len(PHASES)), values, 0.7, bottom=bottom, color=colours[i], label=RING_NAMES[ring])
            bottom += values
        ax.set_xticks(np.arange(len(PHASES)), [p.replace("update.", "upd. ") for p in PHASES], rotation=60,
                      ha="right", fontsize=7)
        ax.set_title(method, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("training energy (mJ)")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(fig, out / "energy_by_phase.png")


def writes_per_step(ledger, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for method, group in ledger.groupby("method", sort=False):
        if group.device_writes.sum() > 0:
            ax.plot(group.step, group.device_writes, label=method, lw=1)
    ax.set(xlabel="training step", ylabel="device writes", yscale="log", title="Writes per step")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
    else:   # only digital methods ran
        ax.text(0.5, 0.5, "no device writes", transform=ax.transAxes, ha="center")
    return _save(fig, out / "writes_per_step.png")


def writes_per_cell(runs, out: Path) -> Path:
    analog = [r for r in runs if r.analog]
    fig, axes = plt.subplots(2, max(len(analog), 1), figsize=(3.2 * max(len(analog), 1), 5.6), squeeze=False)
    for col, run in enumerate(analog):
        writes = run.training_writes
        axes[0, col].hist(writes, bins=40, color="tab:blue")
        axes[0, col].set(title=f"{run.method}", xlabel="writes per device", yscale="log")
        first = next(iter(run.write_maps))
        image = axes[1, col].imshow(run.write_maps[first], aspect="auto", cmap="viridis")
        axes[1, col].set(title=f"{first}: writes per weight", xlabel="column", ylabel="row")
        fig.colorbar(image, ax=axes[1, col])
    return _save(fig, out / "writes_per_cell.png")


def tile_wear_heatmap(summary: dict, out: Path) -> Path:
    """Mean training writes per device of every tile (columns) for every analog method (rows)."""
    methods = [m for m, v in summary["methods"].items() if v.get("programming", {}).get("tiles")]
    tiles = sorted({t["tile"] for m in methods for t in summary["methods"][m]["programming"]["tiles"]})
    grid = np.full((max(len(methods), 1), max(len(tiles), 1)), np.nan)
    for i, m in enumerate(methods):
        for t in summary["methods"][m]["programming"]["tiles"]:
            grid[i, tiles.index(t["tile"])] = t["mean_writes"]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(tiles), 1.0 + 0.45 * len(methods)))
    image = ax.imshow(np.log10(1.0 + grid), aspect="auto", cmap="magma")
    ax.set_xticks(range(len(tiles)), tiles, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(methods)), methods, fontsize=8)
    for (i, j), v in np.ndenumerate(grid):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=6, color="tab:cyan")
    fig.colorbar(image, ax=ax, label="log10(1 + mean writes / device)")
    ax.set_title("Per-tile wear")
    return _save(fig, out / "tile_wear.png")


def verify_iterations(summary: dict, out: Path) -> Path | None:
    """Distribution of write-verify iterations per device (methods that verify)."""
    hists = {m: v["programming"]["write_verify"]["iterations_per_device"]["histogram"]
             for m, v in summary["methods"].items() if v.get("programming", {}).get("write_verify")}
    if not hists:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for m, h in hists.items():
        ax.step([int(k) for k in h], list(h.values()), where="mid", label=m)
    ax.set(xlabel="verify iterations per programmed device", ylabel="devices", yscale="log",
           title="Write-verify iterations")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, out / "verify_iterations.png")


def latency_breakdown(runs, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    methods = [r.method for r in runs]
    bottom = np.zeros(len(runs))
    kinds = ["bus", "host", "dac_bank", "tile", "adc_bank"]
    for kind in kinds:
        busy = []
        for r in runs:
            tx = r.ledger.transactions()
            tx = tx[(tx.step >= 0) & (tx.kind == kind)]
            busy.append(float((tx.end_ps - tx.start_ps).sum()) * 1e-12 / r.steps)
        ax.bar(methods, busy, bottom=bottom, label=kind)
        bottom += np.array(busy)
    ax.set(ylabel="busy time per step (s)", title="Latency breakdown (busy time by component)")
    ax.legend(fontsize=8)
    return _save(fig, out / "latency_breakdown.png")


GANTT_MAX_ROWS = 40


def gantt_run(runs):
    """The run whose step the Gantt chart shows: the first analog method, else the first."""
    return next((r for r in runs if r.analog), runs[0])


def step_gantt(run, step: int, out: Path) -> Path:
    """Every transaction of one training step, one row per component (the busiest
    GANTT_MAX_ROWS), coloured by operation; time from the step's first issue."""
    tx = run.ledger.transactions()
    tx = tx[tx.step == step]
    t0 = tx.issue_ps.min()
    busy = (tx.end_ps - tx.start_ps).groupby(tx.component).sum()
    components = sorted(busy.nlargest(GANTT_MAX_ROWS).index)
    ops = sorted(tx.op.unique())
    colours = dict(zip(ops, plt.get_cmap("tab20").colors * (len(ops) // 20 + 1)))
    fig, ax = plt.subplots(figsize=(9.5, 0.9 + 0.28 * len(components)))
    for y, component in enumerate(components):
        rows = tx[tx.component == component]
        for op, group in rows.groupby("op"):
            spans = list(zip((group.start_ps - t0) * 1e-6, (group.end_ps - group.start_ps) * 1e-6))
            ax.broken_barh(spans, (y - 0.4, 0.8), color=colours[op])
    ax.set_yticks(range(len(components)), components, fontsize=7)
    ax.invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[op]) for op in ops]
    ax.legend(handles, ops, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set(xlabel="simulated time from step start (µs)",
           title=f"{run.method}, training step {step}: transactions per component")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, out / "step_gantt.png")


def all_figures(result, out: Path) -> dict[str, Path]:
    metric = next(iter(result.summary["methods"].values()))["metric"]["name"]
    figures = {metric_curve_title(metric): metric_curves(result.curves, metric,
                                                         result.summary["input_baseline"], out,
                                                         result.summary.get("dataset", "")),
            "Energy by action (log scale)": energy_by_action(result.summary, out),
            "Energy by phase, stacked by boundary ring": energy_by_phase(result.summary, out),
            "Writes per step": writes_per_step(result.ledger, out),
            "Writes per cell": writes_per_cell(result.runs, out),
            "Latency breakdown": latency_breakdown(result.runs, out),
            "Per-tile wear (mean writes per device)": tile_wear_heatmap(result.summary, out),
            "Write-verify iterations": verify_iterations(result.summary, out),
            "One training step (Gantt)": step_gantt(gantt_run(result.runs), gantt_run(result.runs).steps - 1, out)}
    return {name: path for name, path in figures.items() if path is not None}
