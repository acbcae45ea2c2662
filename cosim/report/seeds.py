"""Several training seeds of one configuration: per method the mean and the 95 % confidence
interval of the mean (Student-t, n - 1 degrees of freedom) of the headline figures.

The interval is mean ± t(0.975, n-1) · s / √n with s the sample standard deviation; it assumes
the seeds' results are independent draws of a roughly normal quantity, and is undefined (None)
for one seed. Lifetimes that are infinite (no writes) are left out and `n` says how many remain.
"""
from __future__ import annotations

import math

from scipy import stats

CONFIDENCE = 0.95
# summary.json key -> path into a method's entry
QUANTITIES = {"metric": ("metric", "value"),
              "energy_j": ("energy_j", "total"),
              "latency_s_per_step": ("latency_s", "per_step"),
              "steps_to_first_cell_failure": ("lifetime", "steps_to_first_cell_failure")}

HEADS = {"metric": "metric", "energy_j": "energy (J)", "latency_s_per_step": "latency / step (s)",
         "steps_to_first_cell_failure": "first failure (steps)"}


def mean_ci(values: list[float]) -> dict:
    """{"n", "mean", "std", "ci95_low", "ci95_high", "ci95_half_width", "values"} of the finite values."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    out = {"n": n, "values": finite, "mean": None, "std": None,
           "ci95_low": None, "ci95_high": None, "ci95_half_width": None}
    if not n:
        return out
    mean = sum(finite) / n
    out["mean"] = mean
    if n < 2:
        return out
    spread = max(finite) - min(finite)
    # equal up to rounding (e.g. a latency no seed changes): no spread, not 1e-19
    std = 0.0 if spread <= 1e-12 * abs(mean) else math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * std / math.sqrt(n)
    out.update(std=std, ci95_low=mean - half, ci95_high=mean + half, ci95_half_width=half)
    return out


def _get(entry: dict, path: tuple[str, ...]):
    for part in path:
        entry = entry.get(part) if isinstance(entry, dict) else None
    return entry


def seed_statistics(summaries: list[dict]) -> dict:
    """summary.json's `seeds` section from one summary per seed (same configuration otherwise)."""
    methods = list(summaries[0]["methods"])
    return {"seeds": [s["seed"] for s in summaries], "confidence": CONFIDENCE,
            "interval": "Student-t on the mean of the seeds",
            "methods": {m: {q: mean_ci([_get(s["methods"][m], path) for s in summaries])
                            for q, path in QUANTITIES.items()} for m in methods}}


def seeds_table(summary: dict) -> list[list[str]]:
    """Rows per method: mean ± 95 % half-width of each quantity."""
    section = summary.get("seeds")
    rows = [["method"] + list(HEADS.values())]
    if not section:
        return rows
    for method, figures in section["methods"].items():
        rows.append([method] + [format_mean_ci(figures[q], len(section["seeds"])) for q in QUANTITIES])
    return rows


def format_mean_ci(figure: dict, seeds: int) -> str:
    """'mean ± half-width', with the count when some seeds had no finite value (e.g. no writes)."""
    if figure["mean"] is None:
        return "—"
    text = f"{figure['mean']:.3g}"
    if figure["ci95_half_width"] is not None:
        text += f" ± {figure['ci95_half_width']:.2g}"
    return text + (f" (n={figure['n']})" if figure["n"] != seeds else "")
