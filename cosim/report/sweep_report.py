"""The sweep report (`cosim report SWEEP_DIR`): results per configuration, Pareto fronts of energy
vs task metric vs lifetime per update rule, sensitivity per axis, best points per criterion.

Replications (seeds) are averaged per configuration (axis values + method) before fronts and
bests are taken. Lifetime is the projected number of steps until 1 % of the devices have failed
(more robust than the first failure); a method that writes nothing lives forever (∞).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cosim.report.figures import _save, plt  # the Agg backend is chosen there
from cosim.report.render import _fmt as fmt_value, write_documents
from cosim.report.sweep_table import load_table, read_plan

# Criterion column -> (label, higher is better).
CRITERIA = {"metric": ("test metric", True),
            "energy_j": ("training energy (J)", False),
            "lifetime_steps": ("lifetime (steps to 1 % devices failed)", True),
            "latency_s": ("training latency (s)", False)}
PARETO_OBJECTIVES = ("energy_j", "metric", "lifetime_steps")
MAX_TABLE_ROWS = 200


def configurations(table: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Finished rows averaged over seeds: one row per (axis values, method)."""
    ok = table[table.status == "ok"].copy()
    ok["lifetime_steps"] = ok.steps_to_1pct_cells_failed.astype(float).fillna(np.inf)
    keys = list(axes) + ["method"]
    numeric = ["metric", "energy_j", "lifetime_steps", "latency_s", "cell_writes",
               "fraction_updated_per_step"]
    grouped = ok.groupby(keys, sort=False, dropna=False)
    out = grouped[numeric].mean()
    out["metric_std"] = grouped.metric.std(ddof=0)
    out["metric_name"] = grouped.metric_name.first()
    out["seeds"] = grouped.size()
    return out.reset_index()


def pareto_mask(objectives: np.ndarray) -> np.ndarray:
    """Rows (larger is better in every column) that no other row dominates."""
    better_eq = (objectives[:, None, :] >= objectives[None, :, :]).all(axis=2)
    strictly = (objectives[:, None, :] > objectives[None, :, :]).any(axis=2)
    dominated_by = better_eq & strictly          # [j, i]: row j dominates row i
    return ~dominated_by.any(axis=0)


def oriented(frame: pd.DataFrame, columns) -> np.ndarray:
    """The criteria as 'larger is better' columns."""
    return np.column_stack([frame[c].to_numpy(float) * (1 if CRITERIA[c][1] else -1) for c in columns])


def pareto_fronts(configs: pd.DataFrame, objectives=PARETO_OBJECTIVES) -> pd.DataFrame:
    """Per method, the configurations on its front of `objectives`, sorted by energy."""
    fronts = [group[pareto_mask(oriented(group, objectives))]
              for _, group in configs.groupby("method", sort=False)]
    return pd.concat(fronts).sort_values(["method", "energy_j"]) if fronts else configs.iloc[:0]


def best_points(configs: pd.DataFrame) -> list[dict]:
    """For each criterion, the best configuration overall and per method."""
    best = []
    for column, (label, higher) in CRITERIA.items():
        for scope, group in [("all methods", configs)] + list(configs.groupby("method", sort=False)):
            values = group[column].to_numpy(float)
            if not len(values) or np.isnan(values).all():
                continue
            pick = np.nanargmax(values) if higher else np.nanargmin(values)
            best.append({"criterion": label, "scope": scope, **group.iloc[pick].to_dict()})
    return best


# ----- tables ------------------------------------------------------------------------------------
def _cell(value) -> str:
    if isinstance(value, float) and np.isinf(value):
        return "∞"
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return "—"
    return fmt_value(value.item() if isinstance(value, np.generic) else value)


def _rows(records, columns: list[str], headers: list[str] | None = None) -> list[list[str]]:
    return [headers or columns] + [[_cell(r[c]) for c in columns] for r in records]


def _config_columns(axes: list[str]) -> list[str]:
    return list(axes) + ["method", "seeds", "metric", "metric_std", "energy_j", "lifetime_steps",
                         "latency_s", "fraction_updated_per_step"]


def metric_label(configs: pd.DataFrame) -> str:
    """The task metric's name(s), e.g. test_accuracy or test_psnr."""
    return " / ".join(dict.fromkeys(configs.metric_name.dropna())) or "test metric"


def shown_axes(configs: pd.DataFrame, axes: list[str]) -> list[str]:
    """Axes worth a column or a plot: a `methods` axis of single rules only repeats `method`."""
    redundant = "methods" in axes and (configs["methods"].astype(str) == configs["method"]).all()
    return [a for a in axes if not (a == "methods" and redundant)]


def report_sections(table: pd.DataFrame, axes: list[str]) -> list[tuple[str, str, list[list[str]]]]:
    configs = configurations(table, axes)
    metric = metric_label(configs)
    columns = _config_columns(shown_axes(configs, axes))
    headers = [{"metric": metric, "metric_std": f"{metric} std"}.get(c, c) for c in columns]
    records = configs.to_dict("records")
    shown = records[:MAX_TABLE_ROWS]
    more = f" First {MAX_TABLE_ROWS} of {len(records)} shown; all in results.csv." if len(records) > len(shown) else ""
    fronts = pareto_fronts(configs)
    sections = [
        ("Results", "Per configuration and update rule, averaged over seeds (`seeds` = replications, "
         "the std is over seeds); every run is a row of results.csv / results.parquet." + more,
         _rows(shown, columns, headers)),
        (f"Pareto fronts: energy vs {metric} vs lifetime", "Per update rule, the configurations no "
         "other configuration of the same rule beats on all three of: lower training energy, higher "
         f"{metric}, longer lifetime (steps until 1 % of devices fail). The figure plots them (filled markers) among all points.",
         _rows(fronts.to_dict("records"), columns, headers)),
        ("Best points per criterion", "The best configuration by each criterion, over all rules and per rule.",
         _rows(best_points(configs), ["criterion", "scope"] + columns, ["criterion", "scope"] + headers)),
    ]
    errors = table[table.status == "error"]
    if len(errors):
        sections.append(("Points that raised", "Recorded with their error; `cosim sweep --resume "
                         "--retry-errors` runs them again.",
                         _rows(errors.to_dict("records"), ["point", "seed"] + list(axes) + ["error"])))
    return sections


# ----- figures -----------------------------------------------------------------------------------
def pareto_figure(configs: pd.DataFrame, out: Path) -> Path:
    """Energy against the metric and against lifetime, per rule: every configuration (faint),
    the three-criteria front (filled) and each panel's two-criteria front (line)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    front3 = pareto_fronts(configs)
    for i, (method, group) in enumerate(configs.groupby("method", sort=False)):
        color = f"C{i}"
        members = front3[front3.method == method]
        for ax, column in zip(axes, ("metric", "lifetime_steps")):
            finite = group[np.isfinite(group[column])]
            ax.scatter(finite.energy_j, finite[column], s=14, color=color, alpha=0.3)
            filled = members[np.isfinite(members[column])]
            ax.scatter(filled.energy_j, filled[column], s=30, color=color)
            front2 = pareto_fronts(finite, ("energy_j", column)).sort_values("energy_j")
            ax.plot(front2.energy_j, front2[column], color=color, lw=1, drawstyle="steps-post", label=method)
    axes[0].set(xscale="log", xlabel="training energy (J)", ylabel=metric_label(configs),
                title="Energy vs task metric")
    lifetimes = configs.lifetime_steps.to_numpy(dtype=float)
    drawn = bool((np.isfinite(lifetimes) & (lifetimes > 0)).any())   # a log axis needs a value to draw
    axes[1].set(xscale="log" if drawn else "linear", yscale="log" if drawn else "linear",
                xlabel="training energy (J)", ylabel="steps to 1 % devices failed",
                title="Energy vs lifetime (∞ not drawn)")
    if not drawn:
        axes[1].text(0.5, 0.5, "no point reached 1 % failed devices", ha="center", transform=axes[1].transAxes)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, title="line: 2-criteria front", title_fontsize=7)
    return _save(fig, out / "pareto.png")


def _axis_positions(values: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """Numeric axes plot at their values; other axes (files, rule lists) as categories."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        return numeric.to_numpy(float), None
    labels = [Path(str(v)).stem if str(v).endswith((".yaml", ".yml")) else str(v) for v in values]
    order = list(dict.fromkeys(labels))
    return np.array([order.index(label) for label in labels], float), order


def sensitivity_figure(configs: pd.DataFrame, axis: str, index: int, out: Path) -> Path:
    """Each criterion against one axis, averaged over the other axes, one line per rule."""
    fig, panels = plt.subplots(1, 3, figsize=(12, 3.6))
    by = configs.groupby([axis, "method"], sort=False, dropna=False)
    means = by[["metric", "energy_j", "lifetime_steps"]].mean().reset_index()
    x_all, labels = _axis_positions(means[axis])
    means["_x"] = x_all
    for i, (method, group) in enumerate(means.groupby("method", sort=False)):
        group = group.sort_values("_x")
        for panel, column in zip(panels, ("metric", "energy_j", "lifetime_steps")):
            finite = group[np.isfinite(group[column])]
            panel.plot(finite._x, finite[column], marker="o", color=f"C{i}", label=method)
    for panel, column in zip(panels, ("metric", "energy_j", "lifetime_steps")):
        panel.set(xlabel=axis, ylabel=metric_label(configs) if column == "metric" else CRITERIA[column][0])
        if column != "metric":
            panel.set_yscale("log")
        if labels:
            panel.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
        panel.grid(alpha=0.3)
    panels[0].legend(fontsize=8)
    fig.suptitle(f"Sensitivity to {axis} (mean over other axes and seeds)")
    return _save(fig, out / f"sensitivity_{index}.png")


def write_sweep_report(sweep_dir: str | Path) -> Path:
    """report.md, report.html and figures in the sweep folder, from its finished points."""
    out = Path(sweep_dir)
    plan = read_plan(out)
    axes = plan["axes"]
    table = load_table(out)
    configs = configurations(table, axes)
    figures = {}
    for stale in out.glob("sensitivity_*.png"):
        stale.unlink()
    if len(configs):
        figures["Pareto fronts per update rule"] = pareto_figure(configs, out)
        for i, axis in enumerate(shown_axes(configs, axes)):
            figures[f"Sensitivity: {axis}"] = sensitivity_figure(configs, axis, i, out)
    done = table.key.nunique()
    intro = (f"{done} of {len(plan['points'])} points finished ({(table.status == 'error').sum()} raised); "
             f"axes: {', '.join(axes) or 'none'}; seeds: "
             f"{', '.join(map(str, sorted({p['seed'] for p in plan['points']})))}.")
    write_documents(out, f"cosim sweep report: {plan['name']}", intro, report_sections(table, axes), figures)
    return out
