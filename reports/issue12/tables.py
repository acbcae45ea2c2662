"""Markdown tables and a figure from measure.py's JSON lines. Usage:
  python reports/issue12/tables.py RESULTS.jsonl FIGURE.png
Tables: learning rates (nearest rounding, seed 0), each rounding at lr 0.1 (seed 0), and the seed
spread at lr 0.1 nearest (mean ± sample standard deviation and min-max over the seeds present).
"""
import json
import statistics
import sys
from collections import defaultdict


def rows(path):
    try:
        return [json.loads(line) for line in open(path)]
    except FileNotFoundError:
        return []


def fmt(v, spec=".3g"):
    return "–" if v is None else format(v, spec)


def add_ratios(data):
    """Lifetime ratios to bp_open_loop of the same learning rate and rounding (rows come from
    separate runs, so the summaries' own ratios are empty)."""
    for r in data:
        r.setdefault("seed", 0)
    bp = {(r["lr"], r["rounding"], r["seed"]): r for r in data if r["method"] == "bp_open_loop"}
    for r in data:
        base = bp.get((r["lr"], r["rounding"], r["seed"]))
        def ratio(ours, theirs):
            return ours / theirs if ours and theirs else None
        if base:
            r["mean_rate_ratio_vs_bp"] = ratio(base["mean_write_rate_per_device"], r["mean_write_rate_per_device"])
            r["first_failure_ratio_vs_bp"] = ratio(r.get("steps_to_first_failure"), base.get("steps_to_first_failure"))
            r["one_pct_ratio_vs_bp"] = ratio(r.get("steps_to_1pct_failed"), base.get("steps_to_1pct_failed"))
    return data


def table(data, key_cols):
    head = key_cols + ["test acc.", "fraction written / step", "device writes", "mean-rate lifetime × bp",
                       "first-failure × bp", "1 %-failed × bp"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in data:
        out.append("| " + " | ".join([str(r[k]) for k in key_cols] + [
            f"{r['metric']:.3f}", fmt(r["fraction_updated_per_step"]), str(r["cell_writes"]),
            fmt(r["mean_rate_ratio_vs_bp"]), fmt(r["first_failure_ratio_vs_bp"]), fmt(r["one_pct_ratio_vs_bp"])]) + " |")
    return "\n".join(out)


def seed_table(data):
    """Per method at lr 0.1, nearest: mean ± sample std (min-max) over seeds of test accuracy,
    fraction written per step and mean-rate lifetime × bp (each seed against its own bp)."""
    by = defaultdict(list)
    for r in data:
        if r["lr"] == 0.1 and r["rounding"] == "nearest":
            by[r["method"]].append(r)

    def spread(values):
        values = [v for v in values if v is not None]
        if not values:
            return "–"
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.3g} ± {sd:.2g} ({min(values):.3g}–{max(values):.3g})"
    head = ["method", "seeds", "test acc.", "fraction written / step", "mean-rate lifetime × bp"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, rs in sorted(by.items()):
        out.append(f"| {method} | {','.join(str(r['seed']) for r in sorted(rs, key=lambda r: r['seed']))} | "
                   f"{spread([r['metric'] for r in rs])} | {spread([r['fraction_updated_per_step'] for r in rs])} | "
                   f"{spread([r['mean_rate_ratio_vs_bp'] for r in rs])} |")
    return "\n".join(out)


def figure(data, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    by = defaultdict(dict)
    for r in data:
        by[r["method"]][r["lr"]] = r["metric"]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=110)
    for method, points in sorted(by.items()):
        lrs = sorted(points)
        ax.plot(lrs, [points[x] for x in lrs], marker="o", label=method)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"test accuracy ({data[0]['steps']} steps)")
    ax.set_title("digits MLP, rram_180nm, nearest rounding")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    data = add_ratios(rows(sys.argv[1]))
    seed0 = [r for r in data if r["seed"] == 0]
    lr_rows = sorted([r for r in seed0 if r["rounding"] == "nearest"], key=lambda r: (r["lr"], r["method"]))
    print(table(lr_rows, ["lr", "method"]))
    print()
    rounding_rows = sorted([r for r in seed0 if r["lr"] == 0.1 and r["method"] != "ideal"],
                           key=lambda r: (r["method"], r["rounding"]))
    print(table(rounding_rows, ["method", "rounding"]))
    print()
    print(seed_table(data))
    if len(sys.argv) > 2 and lr_rows:
        figure(lr_rows, sys.argv[2])
