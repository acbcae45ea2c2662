"""The deterministic summary (summary.json) of a run: per method test metric, energy, latency,
writes and lifetime, plus GPU estimates. No wall-clock figures here (they go to run_info.json)."""
from __future__ import annotations

import numpy as np

from cosim.hardware.registry import by_ring, phase_by_ring, within
from cosim.report.paper import paper_comparison
from cosim.sim.queueing import by_kind, queueing_stats
from cosim.sim.wear import steps_to_failure

SCHEMA = "cosim.summary/1"


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def lifetime_figures(run) -> dict:
    """Projected from each device's steady-state write rate (the second half of training, when
    the run recorded it; else the whole run) and its drawn endurance: the mean write (cycle) and
    pulse rates, and steps (and whole training runs) until the first device and until 1 % of
    devices exceed endurance, counted in the endurance's unit (device.endurance_unit: write
    cycles, or pulses)."""
    if not run.analog:
        return {"max_writes_per_cell": 0, "mean_writes_per_cell": 0.0, "p99_writes_per_cell": 0.0,
                "mean_write_rate_per_device": 0.0, "mean_pulse_rate_per_device": 0.0, "rate_window_steps": 0,
                "endurance_unit": None,
                "steps_to_first_cell_failure": None, "steps_to_1pct_cells_failed": None,
                "runs_to_first_cell_failure": None, "runs_to_1pct_cells_failed": None}
    writes = run.training_writes
    steady, window = run.training_writes, run.steps
    pulses = getattr(run, "training_pulses", None)
    if getattr(run, "steady_writes", None) is not None and run.steady_steps:
        steady, window = run.steady_writes, run.steady_steps
        pulses = getattr(run, "steady_pulses", None)
    unit = getattr(run, "endurance_unit", "cycles")
    worn = pulses if unit == "pulses" else steady
    steps_to_fail = steps_to_failure(worn, run.endurance, window)
    first, one_pct = steps_to_fail.min(), np.quantile(steps_to_fail, 0.01, method="inverted_cdf")
    return {"max_writes_per_cell": int(writes.max()), "mean_writes_per_cell": float(writes.mean()),
            "p99_writes_per_cell": float(np.percentile(writes, 99)),
            "mean_write_rate_per_device": float(steady.mean() / window),
            "mean_pulse_rate_per_device": float(pulses.mean() / window) if pulses is not None else None,
            "rate_window_steps": int(window), "endurance_unit": unit,
            "steps_to_first_cell_failure": _finite_or_none(first),
            "steps_to_1pct_cells_failed": _finite_or_none(one_pct),
            "runs_to_first_cell_failure": _finite_or_none(first / run.steps),
            "runs_to_1pct_cells_failed": _finite_or_none(one_pct / run.steps)}


def lifetime_ratios(methods: dict, baseline: str = "bp_open_loop") -> None:
    """Add each method's projected lifetime relative to `baseline` (None where undefined): the
    ratios of mean write (cycle) rates and of mean pulse rates (baseline / ours: how many times
    longer the average device lasts when wear counts cycles, or pulses; the write-rate ratio is
    the paper's ~1000x figure) and the ratios of first-failure and 1 %-failed steps."""
    base = methods.get(baseline, {}).get("lifetime", {})
    for m in methods.values():
        life = m["lifetime"]
        for unit in ("write", "pulse"):
            ours, theirs = life.get(f"mean_{unit}_rate_per_device"), base.get(f"mean_{unit}_rate_per_device")
            life[f"mean_{unit}_rate_ratio_vs_{baseline}"] = theirs / ours if ours and theirs else None
        for key in ("steps_to_first_cell_failure", "steps_to_1pct_cells_failed"):
            ours, theirs = life.get(key), base.get(key)
            life[f"{key}_vs_{baseline}"] = ours / theirs if ours and theirs else None


def programming_figures(run) -> dict:
    """Programming time per step (median, p99, max), verify statistics and faults."""
    stats = run.write_stats
    if not run.analog or stats is None:
        return {}
    t = stats.program_time_s
    out = {"program_time_s_per_step": {"p50": float(np.percentile(t, 50)), "p99": float(np.percentile(t, 99)),
                                       "max": float(t.max())},
           "pulses_per_written_device": _hist_summary(stats.pulse_hist),
           "faults": dict(stats.faults),
           "tiles": stats.tile_wear}
    if stats.iteration_hist.sum():
        out["write_verify"] = {"iterations_per_device": _hist_summary(stats.iteration_hist),
                               "verify_reads": stats.verify_reads,
                               "unconverged_devices": stats.unconverged}
    return out


def _hist_summary(hist: np.ndarray) -> dict:
    """Quantiles of a histogram of integer values, and the histogram itself (value -> count)."""
    total = int(hist.sum())
    if not total:
        return {"count": 0}
    cum = np.cumsum(hist)
    quantile = lambda q: int(np.searchsorted(cum, q * total))  # noqa: E731
    values = np.flatnonzero(hist)
    return {"count": total, "mean": float((np.arange(hist.size) * hist).sum() / total),
            "p50": quantile(0.5), "p99": quantile(0.99), "max": int(values.max()),
            "histogram": {str(v): int(hist[v]) for v in values}}


def energy_boundaries(by_action: dict[str, float]) -> dict[str, float]:
    """Training energy inside three boundaries: the chip alone, plus the bus, plus the host
    (derived from the components' action declarations, cosim.hardware.registry)."""
    chip, rings = within(by_action, "chip"), by_ring(by_action)
    return {"array": rings["array"], "array_converters": within(by_action, "converters"), "chip": chip,
            "chip_bus": chip + rings["link"], "chip_bus_host": chip + rings["link"] + rings["host"]}


def phase_figures(by_op_action: dict[tuple[str, str], float]) -> dict:
    """Training energy by phase (J), and by phase and ring (each phase's energy in the array,
    the converters and peripherals, the rest of the chip, the off-chip link and memory, and the
    host): the cells sum to the total."""
    table = phase_by_ring(by_op_action)
    return {"by_phase": {phase: sum(rings.values()) for phase, rings in table.items()},
            "by_phase_ring": table}


def gpu_over_chip(gpu_j: float, chip_j: dict[str, float]) -> dict[str, float | None]:
    """GPU board energy ÷ chip energy inside each boundary (None where the chip spent nothing)."""
    return {boundary: (gpu_j / energy if energy else None) for boundary, energy in chip_j.items()}


def chip_vs_gpu(methods: dict, gpu: dict, steps: int) -> dict:
    """Per analog method and GPU: ratios per training step, and per run, where the chip also
    pays the one-time programming of the initial weights (a GPU only loads them)."""
    out = {}
    for name, m in methods.items():
        if not m["tiles"]:
            continue
        energy = m["energy_j"]
        per_step = {b: e / steps for b, e in energy["by_boundary"].items()}
        per_run = {b: e + energy["setup"] for b, e in energy["by_boundary"].items()}
        out[name] = {g: {"per_step": gpu_over_chip(est["energy_j_per_step"], per_step),
                         "per_run": gpu_over_chip(est["energy_j_run"], per_run)}
                     for g, est in gpu.items()}
    return out


def training_queueing(run) -> dict:
    """Utilisation and waiting of every component over the training window (setup excluded)."""
    tx = run.ledger.transactions()
    components = queueing_stats(tx[tx.step >= 0], run.setup_end_ps, run.end_ps)
    return {"window_s": (run.end_ps - run.setup_end_ps) * 1e-12, "by_kind": by_kind(components),
            "components": components}


def method_summary(run) -> dict:
    by_action = run.ledger.energy_by_action(training_only=True)
    setup = sum(run.ledger.energy_by_action(training_only=False).values()) - sum(by_action.values())
    latency = (run.end_ps - run.setup_end_ps) * 1e-12
    return {
        "metric": {"name": run.metric, "value": run.scores[-1][run.metric], "higher_is_better": True},
        "scores": dict(run.scores[-1]),
        "energy_j": {"total": sum(by_action.values()), "by_action": by_action,
                     "by_boundary": energy_boundaries(by_action), "setup": setup,
                     **phase_figures(run.ledger.energy_by_op_action())},
        "latency_s": {"total": latency, "per_step": latency / run.steps},
        "writes": {"cell_writes": int(run.device_writes.sum()), "pulses": int(run.pulses.sum()),
                   "fraction_updated_per_step": float(run.cells_written.mean() / run.weights)},
        "lifetime": lifetime_figures(run),
        "queueing": training_queueing(run),
        "events_per_step": float(run.events.mean()),
        "programming": programming_figures(run),
        "layers": getattr(run, "layers", {}),
        "retention": {f"{delay:g} s": value for delay, value in run.retention.items()},
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
    methods = {run.method: method_summary(run) for run in runs}
    lifetime_ratios(methods)
    summary = {
        "dataset": workload.data.dataset,
        "input_baseline": baseline or {},
        "schema": SCHEMA,
        "workload": workload.name,
        "hardware": hardware.name,
        "fidelity": hardware.fidelity,
        "mvm_numerics": hardware.mvm_numerics,
        "seed": workload.seed,
        "steps": workload.training.steps,
        "batch_size": workload.training.batch_size,
        "device": hardware.device.family,
        "methods": methods,
        "gpu": gpu,
        "chip_vs_gpu": chip_vs_gpu(methods, gpu, workload.training.steps),
    }
    comparison = paper_comparison(summary)
    if comparison is not None:
        summary["paper_comparison"] = comparison
    return summary
