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
        trainer.state.rule = GaussianUpdates(trainer.state.rule, sigma, np.random.default_rng(5))
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
    mapped at training.weight_bound (mapping policy fixed), the scale cost-only's samples use.
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
    for key in real.index.union(cost.index):
        if key[0] not in PROGRAMMING_OPS:
            continue
        t, c = float(real.get(key, 0.0)), float(cost.get(key, 0.0))
        # Written cells as Poisson counts, each carrying `unit` of the action (plan bits, or its
        # mean pulses / reads): var = unit · count, the trained mean over `steps` steps and
        # cost-only's over `samples` sample tiles.
        unit = bits_per_cell if key[0] == "write_plan" else max(t / cells, 1.0) if cells else 1.0
        tolerance = 4.0 * math.sqrt(unit * (t / steps + c / samples)) + 1.0
        assert abs(c - t) <= tolerance, (key, c, t, tolerance)
