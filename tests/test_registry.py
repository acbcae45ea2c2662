"""One registry per plug-in kind (cosim.registry): a rule or a device behaviour registered in one
place is known to workload validation, the training core and cost-only mode; seeds follow names."""
import os
import subprocess
import sys
import typing
import zlib
from contextlib import contextmanager

import numpy as np
import pytest
import cosim.api as api
from tests.conftest import ROOT, hardware, workload
from cosim.hardware.registry import CONTROLLERS
from cosim.registry import BEHAVIOURS, RULES, register_behaviour, register_rule
from cosim.rules import RuleContext, WritePlan, make_rule
from cosim.rules.plan import Mode
from cosim.sim.cost_only import CostModel, cost_only_methods
from cosim.specs.workload import RulesSpec, WorkloadSpec, check_methods, default_methods


class _SignOnce:
    """A throwaway rule: one open-loop write of the sign of ΔW, scaled by σ_write."""

    def plan(self, delta_w, ctx, rng):
        flat = delta_w.ravel()
        cells = np.flatnonzero(flat)
        return [WritePlan("open_loop", cells, np.sign(flat[cells]) * ctx.sigma_write, value_bits=1)]


@contextmanager
def dummy_rule(name="dummy_sign", first=False):
    """Register _SignOnce as `name` for the duration (at the front of the registry if `first`)."""
    saved = dict(RULES._entries)
    try:
        register_rule(name, plan_modes=("open_loop",), stateless=True)(_SignOnce)
        if first:
            RULES._entries = {name: RULES._entries.pop(name), **RULES._entries}
        yield name
    finally:
        RULES._entries = saved


class _FastStub:
    """Stands in for tiki_taka's fast matrix: reads return fixed rows."""

    def __init__(self, shape):
        self.values = np.random.default_rng(1).normal(0.0, 0.05, shape)

    def matmul(self, probe):
        return probe @ self.values


def _plans(rule, shape=(6, 5), steps=3):
    rng = np.random.default_rng(0)
    ctx = RuleContext(sigma_write=0.01, weight_bits=8, matrix="m", pulse_step=0.01,
                      current_sigma=lambda: np.full(shape, 0.01), fast=_FastStub(shape))
    for _ in range(steps):
        plans = rule.plan(rng.normal(0.0, 0.02, shape), ctx, rng)
        assert isinstance(plans, list)      # a rule always returns a list of plans
        yield from plans


def test_the_shipped_rules_and_their_roles():
    assert set(RULES.names()) == {"ideal", "bp_open_loop", "write_verify", "mixed_precision", "manhattan",
                                  "tiki_taka", "eapu", "eapu_adaptive"}
    assert default_methods() == ("ideal", "bp_open_loop", "write_verify", "eapu")
    assert set(cost_only_methods()) == set(RULES.names()) - {"mixed_precision", "tiki_taka"}
    assert [name for name in RULES if not RULES[name].stateless] == ["write_verify", "mixed_precision", "tiki_taka"]
    assert [name for name in RULES if not RULES[name].analog] == ["ideal"]
    assert set(RulesSpec.model_fields) == {"eapu", "mixed_precision", "tiki_taka"}


@pytest.mark.parametrize("name", RULES.names())
def test_plans_use_only_the_declared_modes_and_each_mode_has_a_controller(name):
    entry = RULES[name]
    assert set(entry.plan_modes) <= set(typing.get_args(Mode))
    assert {m for m in entry.plan_modes if m != "digital"} <= set(CONTROLLERS)
    rule = make_rule(name)
    assert rule.name == name and rule.analog == entry.analog
    assert {plan.mode for plan in _plans(rule)} <= set(entry.plan_modes)


def test_rule_parameters_come_from_the_rule_section():
    rules = RulesSpec.model_validate({"eapu": {"k": 3.0}, "tiki_taka": {"transfer_every": 4}})
    assert make_rule("eapu", rules).k == 3.0 and make_rule("eapu_adaptive", rules).k == 3.0
    assert make_rule("eapu_adaptive", rules).adaptive and not make_rule("eapu", rules).adaptive
    assert make_rule("tiki_taka", rules).transfer_every == 4
    with pytest.raises(KeyError, match="unknown update rule 'nope'; known: ideal"):
        make_rule("nope")


def test_a_rule_registered_once_is_known_everywhere():
    raw = workload(steps=3).model_dump()
    with dummy_rule() as name:
        assert name in check_methods([name])
        wl = WorkloadSpec.model_validate({**raw, "methods": ["ideal", name]})
        assert name in cost_only_methods()
        run = api.run(wl, hardware()).summary["methods"][name]
        assert run["writes"]["cell_writes"] > 0
    with pytest.raises(ValueError, match="unknown method"):
        check_methods([name])


def test_seeds_follow_the_rule_name_not_its_position():
    assert RULES["eapu"].seed == zlib.crc32(b"eapu")
    seeds = {name: RULES[name].seed for name in RULES}
    assert len(set(seeds.values())) == len(seeds)
    raw = workload(steps=1).model_dump()
    stats = {"update_scale": 2e-3, "update_scale_source": "test"}
    wl = WorkloadSpec.model_validate({**raw, "methods": ["eapu"], "cost_only": stats})
    before = CostModel(wl, hardware()).sample("eapu", (8, 8))
    with dummy_rule(first=True):
        assert RULES.names()[0] == "dummy_sign"
        assert {name: RULES[name].seed for name in seeds} == seeds
        after = CostModel(wl, hardware()).sample("eapu", (8, 8))
    assert after == before


def test_a_behaviour_registered_once_is_a_valid_device_model():
    base = BEHAVIOURS["parametric"].make
    with pytest.raises(ValueError, match="model 'soft_parametric' unknown; known: "):
        hardware(device={"model": "soft_parametric"})
    register_behaviour("soft_parametric")(type("SoftParametric", (base,), {}))
    try:
        assert hardware(device={"model": "soft_parametric"}).device.model == "soft_parametric"
        with pytest.raises(ValueError, match="cells_per_weight > 1 needs model: binary_sliced"):
            hardware(device={"model": "soft_parametric", "cells_per_weight": 2})
    finally:
        BEHAVIOURS.remove("soft_parametric")


def test_a_name_registered_twice_by_different_plug_ins_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        register_rule("eapu", plan_modes=("open_loop",), stateless=True)(_SignOnce)


NEW_RULE_FILE = '''
import numpy as np
from pydantic import Field

from cosim.registry import register_rule
from cosim.rules.plan import WritePlan
from cosim.specs.base import FrozenSpec


class HalvingParams(FrozenSpec):
    scale: float = Field(0.5, gt=0.0, le=1.0)


class HalvingRule:
    def __init__(self, scale):
        self.scale = scale

    def plan(self, delta_w, ctx, rng):
        flat = delta_w.ravel()
        cells = np.flatnonzero(flat)
        return [WritePlan("open_loop", cells, self.scale * flat[cells], value_bits=ctx.weight_bits)]


@register_rule("halving", plan_modes=("open_loop",), stateless=True, params=HalvingParams)
def halving(params):
    return HalvingRule(params.scale)
'''

CHECK_NEW_RULE = '''
import sys
import cosim.rules
cosim.rules.__path__.append(sys.argv[1])     # as if halving.py were saved in cosim/rules/
import cosim.api as api
from tests.conftest import hardware, workload
from cosim.specs.workload import WorkloadSpec
from cosim.sim.cost_only import cost_only_methods
raw = workload(steps=2).model_dump()
wl = WorkloadSpec.model_validate({**raw, "methods": ["halving"], "rules": {"halving": {"scale": 0.25}}})
assert wl.rules.halving.scale == 0.25 and "halving" in cost_only_methods()
run = api.run(wl, hardware()).summary["methods"]["halving"]
assert run["writes"]["cell_writes"] > 0
print("ok")
'''


def test_a_new_rule_file_with_parameters_is_all_it_takes(tmp_path):
    """One new module in the rules package: its name, its `rules:` section and its training."""
    (tmp_path / "halving.py").write_text(NEW_RULE_FILE)
    out = subprocess.run([sys.executable, "-c", CHECK_NEW_RULE, str(tmp_path)], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
