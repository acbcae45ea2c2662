"""Update rules. A rule turns a desired ΔW into a list of WritePlans (one per target matrix and
write mode); it never touches SimPy. Each rule registers itself in its own module with
@cosim.registry.register_rule (name, plan modes, stateless or not, parameter section, default
or not): a new rule is one new module in this package and nothing else."""
from __future__ import annotations

from cosim.registry import RULES
from cosim.rules.plan import FAST, RuleContext, WritePlan, context_for

__all__ = ["make_rule", "RuleContext", "WritePlan", "FAST", "context_for", "RULES"]


def make_rule(name: str, rules_spec=None):
    """A fresh rule called `name`, configured from the workload's `rules` section (defaults if None).
    Raises KeyError naming the known rules for an unknown name."""
    return RULES[name].build(rules_spec)
