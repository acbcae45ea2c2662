"""The cost-only summary (cost.json) and its tables (terminal, Markdown)."""
from __future__ import annotations

from cosim.report.render import _fmt, _markdown_table, _ratio
from cosim.report.summary import energy_boundaries, gpu_over_chip

SCHEMA = "cosim.cost/1"


def _energy(ledger) -> dict:
    by_action = ledger.energy_by_action(training_only=True)
    return {"total": sum(by_action.values()), "by_action": by_action,
            "by_boundary": energy_boundaries(by_action)}


def wear_figures(estimate, endurance_median: float) -> dict:
    """Device write cycles per weight per step and the steps until a device written at that
    mean rate reaches the median endurance (a mean-rate figure, not the first failure)."""
    rate = estimate.writes["device_writes"] / estimate.weights if estimate.analog else 0.0
    return {"device_writes_per_weight_per_step": rate,
            "steps_to_median_endurance": (endurance_median / rate) if rate else None}


def method_cost(estimate, endurance_median: float) -> dict:
    return {
        "tiles": estimate.tiles,
        "weights": estimate.weights,
        "train_step": {"energy_j": _energy(estimate.train_ledger), "latency_s": estimate.train_latency_s,
                       "writes": dict(estimate.writes)},
        "wear": wear_figures(estimate, endurance_median),
        "inference": {"energy_j": _energy(estimate.inference_ledger),
                      "latency_s": estimate.inference_latency_s, "batch_size": 1},
    }


def chip_vs_gpu(methods: dict, gpu: dict) -> dict:
    """GPU board energy per training step / chip energy per step, per method and boundary."""
    return {name: {g: gpu_over_chip(est["energy_j_per_step"], m["train_step"]["energy_j"]["by_boundary"])
                   for g, est in gpu.items()}
            for name, m in methods.items() if m["tiles"]}


def build_cost_summary(workload, hardware, arch_name: str, estimates: list, gpu: dict,
                       expected_eapu_fraction: float) -> dict:
    methods = {e.method: method_cost(e, hardware.device.endurance_median) for e in estimates}
    return {
        "schema": SCHEMA,
        "workload": workload.name,
        "hardware": hardware.name,
        "arch": arch_name,
        "batch_size": workload.training.batch_size,
        "seed": workload.seed,
        "update_statistics": {**workload.cost_only.model_dump(),
                              "expected_eapu_fraction": expected_eapu_fraction},
        "methods": methods,
        "gpu": gpu,
        "chip_vs_gpu": chip_vs_gpu(methods, gpu),
    }


def cost_table(summary: dict, wall_s: dict | None = None) -> list[list[str]]:
    rows = [["method", "tiles", "train J/step", "chip J", "chip+bus J", "chip+bus+host J",
             "train s/step", "cells written/step", "fraction written", "pulses/step",
             "steps to median endurance", "inference J", "inference s"] + (["wall s"] if wall_s else [])]
    for name, m in summary["methods"].items():
        t, i = m["train_step"], m["inference"]
        b = t["energy_j"]["by_boundary"]
        rows.append([name, str(m["tiles"]), _fmt(t["energy_j"]["total"]), _fmt(b["chip"]),
                     _fmt(b["chip_bus"]), _fmt(b["chip_bus_host"]), _fmt(t["latency_s"]),
                     _fmt(t["writes"]["cells_written"]), _fmt(t["writes"]["fraction_updated"]),
                     _fmt(t["writes"]["pulses"]), _fmt_steps(m["wear"]["steps_to_median_endurance"]),
                     _fmt(i["energy_j"]["total"]), _fmt(i["latency_s"])]
                    + ([f"{wall_s[name]:.2f}"] if wall_s else []))
    return rows


def _fmt_steps(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def gpu_ratio_table(summary: dict) -> list[list[str]]:
    rows = [["method", "boundary"] + [f"{g} J/step ÷ chip J/step" for g in summary["gpu"]]]
    for name, per_gpu in summary["chip_vs_gpu"].items():
        for boundary in ("chip", "chip_bus", "chip_bus_host"):
            rows.append([name, boundary] + [_ratio(per_gpu[g][boundary]) for g in summary["gpu"]])
    return rows


def gpu_step_table(summary: dict) -> list[list[str]]:
    rows = [["GPU", "s/step", "floor J/step", "calibrated J/step", "TDP×time J/step", "bound"]]
    for g in summary["gpu"].values():
        b = g["bands"]
        rows.append([g["gpu"], _fmt(g["time_s_per_step"]), _fmt(b["floor"]), _fmt(b["calibrated"]),
                     _fmt(b["tdp_x_time"]), g["bound"]])
    return rows


def cost_markdown(summary: dict, wall_s: dict | None = None) -> str:
    stats = summary["update_statistics"]
    lines = [
        f"# Cost-only estimate: {summary['workload']} ({summary['arch']}) on {summary['hardware']}", "",
        f"One training step at batch {summary['batch_size']} and one inference (batch 1), priced on the "
        "SimPy chip model from layer shapes; no training numerics. Update statistics: ΔW ~ N(0, σ²) "
        f"with E|ΔW| = {stats['update_scale']:.3g} × weight_bound ({stats['update_scale_source']}); "
        f"EaPU's expected write fraction under it E[min(1, |ΔW|/Δw_th)] = {stats['expected_eapu_fraction']:.4g}. "
        f"Input bit density {stats['input_bit_density']}, mean |w| = {stats['mean_weight_fraction']} × bound "
        "(assumed). Programming is priced from sample tiles programmed by the real controllers.", "",
        _markdown_table(cost_table(summary, wall_s)), "",
        "## GPU, same training step", "", _markdown_table(gpu_step_table(summary)), "",
        "## GPU energy per step ÷ chip energy per step", "",
        "Boundaries: `chip` = tiles, converters and programming; `chip_bus` adds the host link; "
        "`chip_bus_host` adds the host's digital work (weight gradients, norms, attention products). "
        "GPU = whole board, calibrated model (docs/gpu_model.md).", "",
        _markdown_table(gpu_ratio_table(summary)), ""]
    return "\n".join(lines)
