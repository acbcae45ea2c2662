"""Overrides by dotted path (`hardware.adc.bits: 6`, `workload.training.learning_rate: 0.05`):
the one way a field of a loaded workload or chip is replaced, used by `cosim.run(set=...)`,
`cosim run --set PATH=VALUE` and the points of a sweep. The result is validated like a file."""
from __future__ import annotations

from typing import Any

import yaml

from cosim.specs.base import SpecError, SpecTypeError, validate_mapping
from cosim.specs.hardware import HardwareSpec
from cosim.specs.workload import WorkloadSpec

ROOTS = ("hardware", "workload")


class OverrideError(SpecError):
    """An override whose path or value cannot be used; names the override and the rule."""


def check_path(name: Any) -> str:
    """A dotted path below `hardware.` or `workload.`, or ValueError."""
    if not isinstance(name, str):
        raise ValueError("an override path must be a string such as 'hardware.adc.bits'")
    root, _, rest = name.partition(".")
    if root not in ROOTS or not rest or "" in rest.split("."):
        raise ValueError("must be a dotted path starting hardware. or workload. (e.g. hardware.adc.bits)")
    return name


def set_path(raw: dict, name: str, value: Any, note: str | None = None) -> None:
    """Set `name` ("hardware.adc.bits") in `raw` ({"hardware": {...}, "workload": {...}}) in place;
    a field with a source note gets `note` as its note. ValueError when a parent is not a mapping."""
    *parents, leaf = name.split(".")
    node = raw
    for depth, part in enumerate(parents):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"{'.'.join(parents[:depth + 1])} is not a mapping; cannot set {leaf!r} below it")
    node[leaf] = value
    if note is not None and isinstance(node.get("sources"), dict) and leaf in node["sources"]:
        node["sources"][leaf] = note


def parse_assignment(text: str) -> tuple[str, Any]:
    """`PATH=VALUE` from the command line; VALUE is read as YAML (6 -> int, [1, 2] -> list,
    40 uS -> the string "40 uS")."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise OverrideError("--set", [(text, "expected PATH=VALUE, e.g. hardware.adc.bits=6")])
    try:
        return check_path(name.strip()), yaml.safe_load(value)
    except (ValueError, yaml.YAMLError) as exc:
        raise OverrideError("--set", [(name.strip(), str(exc).splitlines()[0])]) from None


def apply_overrides(workload: WorkloadSpec, hardware: HardwareSpec, overrides: dict | None,
                    origin: str = "set") -> tuple[WorkloadSpec, HardwareSpec]:
    """`workload` and `hardware` with each dotted-path override applied, validated; OverrideError
    (naming `origin` and the override) for a bad path or value."""
    if not overrides:
        return workload, hardware
    if not isinstance(overrides, dict):
        raise SpecTypeError(f"{origin}: expected a mapping of dotted paths to values, e.g. "
                            f"{{'hardware.adc.bits': 6}}, got {type(overrides).__name__}")
    raw = {"workload": workload.model_dump(), "hardware": hardware.model_dump()}
    for name, value in overrides.items():
        try:
            set_path(raw, check_path(name), value, note=f"override ({origin})")
        except ValueError as exc:
            raise OverrideError(origin, [(str(name), str(exc))]) from None
    specs = []
    for kind, model in (("workload", WorkloadSpec), ("hardware", HardwareSpec)):
        try:
            specs.append(validate_mapping(model, raw[kind], origin))
        except SpecError as exc:
            raise OverrideError(origin, [(_responsible(f"{kind}.{field}" if field else kind, overrides), rule)
                                         for field, rule in exc.problems]) from None
    return specs[0], specs[1]


def _responsible(field: str, overrides: dict) -> str:
    """The override a failing field comes from (its path, or one above or below it), else the field."""
    for name in overrides:
        if field == name or field.startswith(name + ".") or name.startswith(field + "."):
            return name if name == field else f"{name} ({field})"
    return field
