"""Registries of named plug-ins: update rules (RULES) and device behaviours (BEHAVIOURS).

A plug-in registers itself where it is defined, with a decorator:

    @register_rule("manhattan", plan_modes=("open_loop",), stateless=True)
    class ManhattanRule: ...

    @register_behaviour("unidirectional")
    class Unidirectional(Parametric): ...

so adding a rule is one new file in cosim/rules/ and adding a device behaviour is one class in
cosim/devices/behaviours.py. Every consumer (workload validation, the training core, cost-only
mode, the CLI's error messages) reads the names from here.

This module sits at the bottom layer and imports nothing of cosim: a registry fills itself the
first time it is read by importing its plug-in modules (every module of a package, in name
order). The spec layer therefore checks names without a static import of the layers that hold
them (the import-linter contracts in pyproject.toml check the static graph).
"""
from __future__ import annotations

import importlib
import pkgutil
import zlib
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

E = TypeVar("E", "RuleEntry", "BehaviourEntry")


@dataclass(frozen=True)
class RuleEntry:
    """One update rule.

    make: the rule's class or factory, called with no argument (no params) or with the rule's
    parameter section. plan_modes: the WritePlan modes its plans use; a plan's mode alone picks
    the controller that applies it ("digital": applied on the host, no controller). stateless:
    one update depends only on that step's ΔW. cost_only: cost-only mode prices it from one
    sampled update of a fresh rule (by default: when stateless). params: pydantic model of its
    parameters, the workload's `rules.<section>` section. default: trained by a workload that
    lists no methods.
    """

    name: str
    make: Callable
    plan_modes: tuple[str, ...]
    stateless: bool
    params: type | None = None
    section: str | None = None
    default: bool = False
    cost_only: bool = False

    @property
    def analog(self) -> bool:
        """True when the rule's weights live on tiles (any plan mode besides digital)."""
        return any(mode != "digital" for mode in self.plan_modes)

    @property
    def seed(self) -> int:
        """A seed word from the rule's name (never its position): crc32 of the UTF-8 name."""
        return zlib.crc32(self.name.encode("utf-8"))

    def build(self, rules_spec=None):
        """A fresh rule, configured from a workload's `rules` section (its defaults if None)."""
        if self.params is None:
            rule = self.make()
        else:
            section = getattr(rules_spec, self.section) if rules_spec is not None else self.params()
            rule = self.make(section)
        rule.name, rule.analog = self.name, self.analog
        return rule


@dataclass(frozen=True)
class BehaviourEntry:
    """One device behaviour (`device.model` of a chip spec).

    make: its class, called with the DeviceSpec. multi_cell: a device of a pair is several cells
    (`device.cells_per_weight` > 1 is allowed).
    """

    name: str
    make: Callable
    multi_cell: bool = False


class Registry(Generic[E]):
    """Entries by name, filled on first read by importing the plug-in modules."""

    def __init__(self, kind: str, plugins: tuple[str, ...]):
        self.kind, self.plugins = kind, plugins
        self._entries: dict[str, E] = {}
        self._loaded = False

    def add(self, entry: E) -> None:
        old = self._entries.get(entry.name)
        if old is not None and _qualname(old.make) != _qualname(entry.make):
            raise ValueError(f"{self.kind} {entry.name!r} registered twice "
                             f"({_qualname(old.make)} and {_qualname(entry.make)})")
        self._entries[entry.name] = entry

    def remove(self, name: str) -> None:
        """Forget `name` (tests that register a temporary plug-in)."""
        self._entries.pop(name, None)

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self.plugins:
                _import_all(module)

    def names(self) -> tuple[str, ...]:
        self._load()
        return tuple(self._entries)

    def entries(self) -> tuple[E, ...]:
        self._load()
        return tuple(self._entries.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __getitem__(self, name: str) -> E:
        self._load()
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self._entries)}")
        return self._entries[name]


def _qualname(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


def _import_all(name: str) -> None:
    """Import module `name` and, when it is a package, each of its public modules in name order."""
    module = importlib.import_module(name)
    if hasattr(module, "__path__"):
        for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{name}.{info.name}")


RULES: Registry[RuleEntry] = Registry("update rule", ("cosim.rules",))
BEHAVIOURS: Registry[BehaviourEntry] = Registry("device model", ("cosim.devices.behaviours",))


def register_rule(name: str, *, plan_modes: tuple[str, ...], stateless: bool, params: type | None = None,
                  section: str | None = None, default: bool = False, cost_only: bool | None = None):
    """Class/factory decorator: register an update rule under `name` (see RuleEntry)."""
    def decorate(make):
        RULES.add(RuleEntry(name, make, tuple(plan_modes), stateless, params,
                            (section or name) if params is not None else None, default,
                            stateless if cost_only is None else cost_only))
        return make
    return decorate


def register_behaviour(name: str, *, multi_cell: bool = False):
    """Class decorator: register a device behaviour under `name` (see BehaviourEntry)."""
    def decorate(cls):
        BEHAVIOURS.add(BehaviourEntry(name, cls, multi_cell))
        return cls
    return decorate
