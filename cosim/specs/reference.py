"""The field reference of every spec file (docs/spec_reference.md), generated from the models:
per field its unit, accepted range, default and meaning.

    python -m cosim.specs.reference --write    # rewrite docs/spec_reference.md
    python -m cosim.specs.reference --check    # exit 1 when the committed file is stale (CI test)
"""
from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cosim.specs.base import REPO_ROOT, quantity_rule
from cosim.specs.gpu import CalibrationSpec, GpuSpec
from cosim.specs.hardware import HardwareSpec
from cosim.specs.network import ARCH_PARAMS, ArchParams
from cosim.specs.sweep import SweepSpec
from cosim.specs.workload import WorkloadSpec

REFERENCE_FILE = REPO_ROOT / "docs" / "spec_reference.md"
SPECS = [("Hardware spec", "hardware_specs/*.yaml", HardwareSpec),
         ("Workload", "workloads/*.yaml", WorkloadSpec),
         ("Sweep", "workloads/sweeps/*.yaml", SweepSpec),
         ("GPU spec", "hardware_specs/gpus/*.yaml", GpuSpec),
         ("GPU model calibration", "hardware_specs/gpus/calibration.yaml", CalibrationSpec)]
HEADER = """# Spec field reference

Generated from the spec models by `python -m cosim.specs.reference --write`; a test fails when
it is stale, so do not edit by hand. A quantity takes a unit (`40 uS`, `100 ns`, `2.5 pJ`) or a
plain number in the SI unit shown, and must lie in the range shown: a number whose unit was
forgotten (`g_max: 40`, read as 40 S) is refused with the file, the field and the range.
Hardware sections also take `sources:` (field -> where its number comes from); a preset that
`extends:` another overrides fields one by one, each with its own note.
"""


def _parts(annotation: Any) -> list[Any]:
    """`annotation` and everything nested in it (Optional, Annotated, tuple, list arguments)."""
    out, stack = [], [annotation]
    while stack:
        item = stack.pop()
        out.append(item)
        stack.extend(get_args(item))
    return out


def _submodel(annotation: Any) -> type[BaseModel] | None:
    for part in _parts(annotation):
        if isinstance(part, type) and issubclass(part, BaseModel):
            return part
    return None


def _constraints(field: FieldInfo) -> list[Any]:
    found = list(field.metadata)
    for part in _parts(field.annotation):
        found += [m for m in getattr(part, "__metadata__", ()) if not isinstance(m, FieldInfo)]
        found += [c for m in getattr(part, "__metadata__", ()) if isinstance(m, FieldInfo) for c in m.metadata]
    return found


def _type_text(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a) for a in get_args(annotation))
    if origin is typing.Annotated:
        return _type_text(get_args(annotation)[0])
    if origin in (tuple, list):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return f"list of {_type_text(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and quantity_rule(annotation):
        return "quantity"
    return getattr(annotation, "__name__", str(annotation)).replace("NoneType", "null")


def _range_text(field: FieldInfo) -> str:
    rule = quantity_rule(field)
    if rule is not None:
        return rule.describe_range()
    symbols = {at.Gt: ">", at.Ge: ">=", at.Lt: "<", at.Le: "<=", at.MinLen: "length >=", at.MaxLen: "length <="}
    bounds = []
    for c in _constraints(field):
        for kind, symbol in symbols.items():
            if isinstance(c, kind):
                value = next(iter(vars(c).values())) if not hasattr(c, "__dataclass_fields__") else \
                    getattr(c, next(iter(c.__dataclass_fields__)))
                bounds.append(f"{symbol} {value:g}" if isinstance(value, float) else f"{symbol} {value}")
        if getattr(c, "pattern", None):
            bounds.append(f"pattern `{c.pattern}`")
    return ", ".join(dict.fromkeys(bounds))


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if value == {}:
        return "{}"
    if value == "":
        return '""'
    return str(value)


# Meanings of fields that recur in every spec.
COMMON = {"name": "Identifier (letters, digits, _ . -): names the output folder and the report.",
          "description": "Free text for the report.",
          "sources": "Where each number of this section comes from (field name -> note).",
          "source": "Where these numbers come from."}


def _meaning(name: str, field: FieldInfo, sub: type[BaseModel] | None) -> str:
    text = field.description or ""
    if not text and sub is not None and sub.__doc__:
        text = sub.__doc__.strip().split("\n\n")[0]
    text = text or COMMON.get(name, "")
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(model: type[BaseModel], prefix: str = "") -> list[list[str]]:
    rows = []
    for name, field in model.model_fields.items():
        path = prefix + name
        sub = _submodel(field.annotation)
        if sub is not None and not issubclass(sub, ArchParams):
            rows.append([f"**{path}**", "section", "", _default_text(field), _meaning(name, field, sub)])
            keyed = get_origin(field.annotation) is dict
            rows += _rows(sub, path + (".<axis>." if keyed else "."))
            continue
        rule = quantity_rule(field)
        unit = rule.unit if rule else ""
        listed = get_origin(field.annotation) in (tuple, list)
        kind = ("list of quantities" if listed else "quantity") if rule else _type_text(field.annotation)
        rows.append([f"`{path}`", kind, f"{unit}{'; ' if unit and _range_text(field) else ''}"
                     f"{_range_text(field)}" if not rule else f"{unit}; {rule.describe_range()}",
                     _default_text(field), _meaning(name, field, sub)])
    return rows


def _table(rows: list[list[str]]) -> str:
    lines = ["| field | type | unit; range | default | meaning |", "|---|---|---|---|---|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def reference_markdown() -> str:
    """docs/spec_reference.md as generated from the models now."""
    parts = [HEADER]
    for title, files, model in SPECS:
        parts.append(f"## {title} (`{files}`)\n\n{_table(_rows(model))}\n")
        if model is WorkloadSpec:
            for arch, params in ARCH_PARAMS.items():
                parts.append(f"### `network.params` when `network.arch: {arch}`\n\n"
                             f"{_table(_rows(params, 'network.params.'))}\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {REFERENCE_FILE.relative_to(REPO_ROOT)}")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed file is stale")
    args = parser.parse_args(argv)
    text = reference_markdown()
    if args.write:
        Path(REFERENCE_FILE).write_text(text, encoding="utf-8")
        return 0
    if args.check:
        current = REFERENCE_FILE.is_file() and REFERENCE_FILE.read_text(encoding="utf-8") == text
        if not current:
            print(f"{REFERENCE_FILE} is stale: run `python -m cosim.specs.reference --write`", file=sys.stderr)
        return 0 if current else 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
