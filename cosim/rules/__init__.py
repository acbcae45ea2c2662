"""Update rules by name. A rule turns a desired ΔW into a WritePlan; it never touches SimPy."""
from __future__ import annotations

from cosim.rules.basic import BpOpenLoopRule, IdealRule, WriteVerifyRule
from cosim.rules.eapu import EapuRule
from cosim.rules.plan import RuleContext, WritePlan

__all__ = ["make_rule", "RuleContext", "WritePlan"]


def make_rule(name: str, rules_spec=None):
    """The rule called `name`, configured from the workload's `rules` section."""
    if name == "ideal":
        return IdealRule()
    if name == "bp_open_loop":
        return BpOpenLoopRule()
    if name == "write_verify":
        return WriteVerifyRule()
    if name == "eapu":
        return EapuRule(k=rules_spec.eapu.k if rules_spec is not None else 1.0)
    raise KeyError(f"unknown update rule {name!r}")
