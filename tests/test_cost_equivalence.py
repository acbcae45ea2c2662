"""Cost-only mode books, per step, what a trained run of the same network and batch books.

On every shipped chip preset and for every rule cost-only prices:
* every action of the step's deterministic work (tile MVMs, bus transfers, host work, the rule's
  host work) has the same count in cost-only's ledger as in step 0 of a real trained run;
* programming (pulses, verify reads, write-plan bits) agrees within sampling error when the
  trained run's updates have the statistics cost-only assumes: the trained rule is handed
  ΔW ~ N(0, σ²) with cost-only's σ, and cost-only's weight statistic is the trained network's.
"""
import copy
import math
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, WL_FILE
from cosim.nn.tasks import load_task
from cosim.sim.cost_only import CostModel, cost_only_methods, update_sigma
from cosim.sim.training import Trainer
from cosim.specs.base import read_yaml
from cosim.specs.hardware import load_hardware
from cosim.specs.workload import WorkloadSpec

PRESETS = sorted(p.stem for p in (ROOT / "hardware_specs").glob("*.yaml"))
ANALOG = [m for m in cost_only_methods() if m != "ideal"]
PROGRAMMING_OPS = {"write_plan", "open_loop_write", "eapu_write", "write_verify"}
UPDATE_SCALE = 2e-3
BATCH = 8


def workload(method: str, widths, steps: int, mean_weight_fraction: float = 0.25,
             mapping: str = "max_abs") -> WorkloadSpec:
    raw = copy.deepcopy(read_yaml(WL_FILE))
    raw["network"] = {"arch": "mlp", "params": {"widths": list(widths), "activation": "sigmoid"}}
    raw["training"].update({"steps": steps, "batch_size": BATCH, "eval_every": steps,
                            "mapping": {"policy": mapping}})
    raw["methods"] = [method]
    raw["cost_only"] = {"update_scale": UPDATE_SCALE, "update_scale_source": "test",
                        "mean_weight_fraction": mean_weight_fraction}
    return WorkloadSpec.model_validate(raw)


def counts_by_op(ledger, steps=None) -> pd.Series:
    """Action counts summed over training steps (all of them, or `steps`), by (op, action)."""
    acts, tx = ledger.actions(), ledger.transactions()
    acts = acts[acts.step >= 0] if steps is None else acts[acts.step.isin(steps)]
    return acts.assign(op=tx.op.to_numpy()[acts.tx.to_numpy()]).groupby(["op", "action"])["count"].sum()


@lru_cache(maxsize=None)
def _task(wl_json: str):
    wl = WorkloadSpec.model_validate_json(wl_json)
    return load_task(wl.data, wl.network.build().input_shape)


class GaussianUpdates:
    """Hands the wrapped rule ΔW ~ N(0, σ²) of the shape it was asked for (cost-only's statistic)."""

    def __init__(self, rule, sigma: float, rng: np.random.Generator):
        self.rule, self.sigma, self.rng = rule, sigma, rng
        self.name, self.analog = rule.name, rule.analog

    def plan(self, delta_w, ctx, rng):
        return self.rule.plan(self.rng.normal(0.0, self.sigma, delta_w.shape), ctx, rng)


def trained(method: str, hw, wl: WorkloadSpec, gaussian: bool = False) -> tuple[Trainer, object]:
    trainer = Trainer(method, wl, hw, _task(wl.model_dump_json()))
    if gaussian:
        sigma = update_sigma(UPDATE_SCALE, wl.training.weight_bound)
        rule = trainer.state.rule
        if hasattr(rule, "prime_steady_state"):   # start where cost-only's sample starts
            for name, m in trainer.state.trained_matrices().items():
                rule.prime_steady_state(name, m.in_features * m.out_features,
                                        hw.write_verify.tolerance * m.weight_bound, sigma, np.random.default_rng(6))
        trainer.state.rule = GaussianUpdates(rule, sigma, np.random.default_rng(5))
    return trainer, trainer.train()


@pytest.mark.parametrize("method", ["ideal", *ANALOG])
@pytest.mark.parametrize("preset", PRESETS)
def test_deterministic_work_counts_equal(preset, method):
    """Both bugs of issue 11 show here: MRAM's cells_per_weight (ADC/array columns) and the
    non-negative digits input (one first-layer input phase)."""
    hw = load_hardware(ROOT / "hardware_specs" / f"{preset}.yaml")
    wl = workload(method, (64, 16, 10), steps=1)
    _, run = trained(method, hw, wl)
    real = counts_by_op(run.ledger, [0])
    cost = counts_by_op(CostModel(wl, hw).estimate(method).train_ledger)
    keep = lambda s: s[~s.index.get_level_values("op").isin(PROGRAMMING_OPS)]
    pd.testing.assert_series_equal(keep(cost), keep(real), check_names=False)
    assert (run.ledger.transactions().op == "backward").any() or method == "ideal"


@pytest.mark.parametrize("method", ANALOG)
@pytest.mark.parametrize("preset", PRESETS)
def test_programming_counts_agree_within_sampling_error(preset, method):
    """A one-layer net: its weights are Xavier-uniform, the shape cost-only's sample tiles draw,
    mapped at training.weight_bound (mapping policy fixed; the per-layer default is the next
    test). An accumulating rule starts from the steady state cost-only's samples start from.
    Stuck devices are switched off: a stuck device a write-verify cannot converge costs its whole
    pulse budget, a rare event that 640 trained cells cannot estimate to the tolerance here."""
    steps = 16
    hw = load_hardware(ROOT / "hardware_specs" / f"{preset}.yaml")
    hw = hw.model_copy(update={"device": hw.device.model_copy(update={"stuck_fraction": 0.0})})
    trainer, run = trained(method, hw, workload(method, (64, 10), steps, mapping="fixed"), gaussian=True)
    mean_weight = float(np.mean(np.abs(trainer.state.initial["linear1"]))) / trainer.wl.training.weight_bound
    model = CostModel(workload(method, (64, 10), steps, mean_weight, mapping="fixed"), hw)
    cost = counts_by_op(model.estimate(method).train_ledger)
    real = counts_by_op(run.ledger) / steps
    samples = 8                                  # MAX_SAMPLES tiles of 64 x 10 per estimate
    cells = float(run.cells_written.mean())
    bits_per_cell = hw.bus.address_bits + hw.bus.weight_bits
    # Pulses per written device are over-dispersed where a write can take a long train (PCM's
    # write-verify refreshes): a compound Poisson sum has variance count · E[p²], not
    # count · E[p]², so the per-cell unit carries the trained pulse histogram's E[p²]/E[p]².
    hist = run.write_stats.pulse_hist
    p = np.arange(hist.size)
    dispersion = float((hist * p * p).sum() * hist.sum() / max((hist * p).sum(), 1) ** 2) if hist.sum() else 1.0
    for key in real.index.union(cost.index):
        if key[0] not in PROGRAMMING_OPS:
            continue
        t, c = float(real.get(key, 0.0)), float(cost.get(key, 0.0))
        # Written cells as Poisson counts, each carrying `unit` of the action (plan bits, or its
        # mean pulses / reads times the dispersion): var = unit · count, the trained mean over `steps` steps and
        # cost-only's over `samples` sample tiles.
        unit = bits_per_cell if key[0] == "write_plan" else max(t / cells, 1.0) * dispersion if cells else 1.0
        tolerance = 4.0 * math.sqrt(unit * (t / steps + c / samples)) + 1.0
        assert abs(c - t) <= tolerance, (key, c, t, tolerance)


def test_cost_only_maps_each_layer_where_training_does():
    """The mapping policy is one concept: cost-only's sample tiles take each matrix's scale from
    the same initial weights and policy as training (default max_abs per layer), not the bound."""
    hw = load_hardware(ROOT / "hardware_specs" / "rram_180nm.yaml")
    wl = workload("eapu", (64, 16, 10), steps=1)
    trainer = Trainer("eapu", wl, hw, _task(wl.model_dump_json()))
    model = CostModel(wl, hw)
    scales = {n: m.weight_bound for n, m in trainer.state.trained_matrices().items()}
    assert model.scales == pytest.approx(scales) and all(s < wl.training.weight_bound for s in scales.values())
    assert model.eapu_threshold(scales["linear1"]) == pytest.approx(5 * scales["linear1"] / hw.device.levels)


def test_write_verify_steady_state_accumulator_writes_at_the_walks_rate():
    """One update from the primed accumulator writes the share a long random walk writes per step."""
    from cosim.rules.basic import WriteVerifyRule
    rng, n, tol, sigma = np.random.default_rng(0), 20000, 5.0, 1.0
    acc, writes, burn, steps = np.zeros(n), 0, 300, 300
    for step in range(burn + steps):
        acc += rng.normal(0.0, sigma, n)
        hit = np.abs(acc) > tol
        writes += hit.sum() if step >= burn else 0
        acc[hit] = 0.0
    walk = writes / n / steps
    rule = WriteVerifyRule()
    rule.prime_steady_state("m", n, tol, sigma, rng)
    (plan,) = rule.plan(rng.normal(0.0, sigma, n), type("Ctx", (), {"matrix": "m", "verify_tolerance": tol,
                                                                     "weight_bits": 8})(), rng)
    primed = plan.cells.size / n
    assert primed == pytest.approx(walk, rel=0.1)               # ± 4 standard errors of ~600 writes
    assert np.mean(np.abs(rng.normal(0.0, sigma, n)) > tol) < 0.01 * primed   # an empty start: ~no writes
