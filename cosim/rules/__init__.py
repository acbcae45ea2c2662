"""Update rules by name. A rule turns a desired ΔW into a WritePlan (or a list of them); it never
touches SimPy. A new rule is one module plus one entry in RULES."""
from __future__ import annotations

from cosim.rules.basic import BpOpenLoopRule, IdealRule, WriteVerifyRule
from cosim.rules.eapu import EapuRule
from cosim.rules.manhattan import ManhattanRule
from cosim.rules.mixed_precision import MixedPrecisionRule
from cosim.rules.plan import FAST, RuleContext, WritePlan, context_for
from cosim.rules.tiki_taka import TikiTakaRule

__all__ = ["make_rule", "RuleContext", "WritePlan", "FAST", "context_for", "RULES"]

RULES = {
    "ideal": lambda spec: IdealRule(),
    "bp_open_loop": lambda spec: BpOpenLoopRule(),
    "write_verify": lambda spec: WriteVerifyRule(),
    "mixed_precision": lambda spec: MixedPrecisionRule(k=spec.mixed_precision.k),
    "manhattan": lambda spec: ManhattanRule(),
    "tiki_taka": lambda spec: TikiTakaRule(spec.tiki_taka.transfer_every, spec.tiki_taka.rows_per_transfer,
                                           spec.tiki_taka.transfer_scale),
    "eapu": lambda spec: EapuRule(k=spec.eapu.k, adaptive=spec.eapu.threshold == "adaptive",
                                  compensate_asymmetry=spec.eapu.compensate_asymmetry),
    "eapu_adaptive": lambda spec: _named(EapuRule(k=spec.eapu.k, adaptive=True,
                                                  compensate_asymmetry=spec.eapu.compensate_asymmetry),
                                         "eapu_adaptive"),
}


def _named(rule, name: str):
    rule.name = name
    return rule


def make_rule(name: str, rules_spec=None):
    """The rule called `name`, configured from the workload's `rules` section."""
    from cosim.specs.workload import RulesSpec
    if name not in RULES:
        raise KeyError(f"unknown update rule {name!r}")
    return RULES[name](rules_spec if rules_spec is not None else RulesSpec())
