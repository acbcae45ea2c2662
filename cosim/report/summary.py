"""The deterministic summary (summary.json) of a run: per method test metric, energy, latency,
writes and lifetime, plus GPU estimates. No wall-clock figures here (they go to run_info.json)."""
from __future__ import annotations

import numpy as np

from cosim.report.paper import paper_comparison

SCHEMA = "cosim.summary/1"
CHIP_ACTIONS = ("dac_conversion", "array_read", "adc_conversion", "program_pulse", "verify_read")
HOST_ACTIONS = ("host_mac", "host_op", "eapu_draw")
BUS_ACTIONS = ("bus_transfer",)


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def lifetime_figures(run) -> dict:
    """Projected from each device's training write rate and its drawn endurance."""
    if not run.analog:
        return {"max_writes_per_cell": 0, "mean_writes_per_cell": 0.0,
                "steps_to_first_cell_failure": None, "steps_to_1pct_cells_failed": None}
    writes = run.training_writes
    rate = writes / run.steps
    with np.errstate(divide="ignore"):
        steps_to_fail = np.where(rate > 0, run.endurance / np.where(rate > 0, rate, 1.0), np.inf)
    return {"max_writes_per_cell": int(writes.max()), "mean_writes_per_cell": float(writes.mean()),
            "steps_to_first_cell_failure": _finite_or_none(steps_to_fail.min()),
            "steps_to_1pct_cells_failed": _finite_or_none(
                np.quantile(steps_to_fail, 0.01, method="inverted_cdf"))}


def energy_boundaries(by_action: dict[str, float]) -> dict[str, float]:
    """Training energy inside three boundaries: the chip alone, plus the bus, plus the host."""
    chip = sum(by_action.get(a, 0.0) for a in CHIP_ACTIONS)
    bus = sum(by_action.get(a, 0.0) for a in BUS_ACTIONS)
    host = sum(by_action.get(a, 0.0) for a in HOST_ACTIONS)
    return {"chip": chip, "chip_bus": chip + bus, "chip_bus_host": chip + bus + host}


def method_summary(run) -> dict:
    by_action = run.ledger.energy_by_action(training_only=True)
    setup = sum(run.ledger.energy_by_action(training_only=False).values()) - sum(by_action.values())
    latency = (run.end_ps - run.setup_end_ps) * 1e-12
    return {
        "metric": {"name": run.metric, "value": run.scores[-1][run.metric], "higher_is_better": True},
        "scores": dict(run.scores[-1]),
        "energy_j": {"total": sum(by_action.values()), "by_action": by_action,
                     "by_boundary": energy_boundaries(by_action), "setup": setup},
        "latency_s": {"total": latency, "per_step": latency / run.steps},
        "writes": {"cell_writes": int(run.device_writes.sum()), "pulses": int(run.pulses.sum()),
                   "fraction_updated_per_step": float(run.cells_written.mean() / run.weights)},
        "lifetime": lifetime_figures(run),
        "weights": run.weights,
        "tiles": run.tiles,
        "final_loss": float(run.loss[-1]),
        "inference": _inference(run.inference),
    }


def _inference(priced: dict) -> dict:
    """The priced test-set forward pass on the trained chip (see Trainer._price_inference)."""
    if not priced:
        return {}
    return {**priced, "energy_j_per_sample": priced["energy_j"]["total"] / priced["samples"]}


def build_summary(workload, hardware, runs: list, gpu: dict, baseline: dict | None = None) -> dict:
    summary = {
        "dataset": workload.data.dataset,
        "input_baseline": baseline or {},
        "schema": SCHEMA,
        "workload": workload.name,
        "hardware": hardware.name,
        "seed": workload.seed,
        "steps": workload.training.steps,
        "batch_size": workload.training.batch_size,
        "methods": {run.method: method_summary(run) for run in runs},
        "gpu": gpu,
    }
    comparison = paper_comparison(summary)
    if comparison is not None:
        summary["paper_comparison"] = comparison
    return summary
